"""Routing by capacity: each worker advertises what it can hold, and a job goes to the
smallest queue whose live workers can all hold it – a big job waits for the big worker
and never lands on the small one; a job no worker can hold is refused at once."""

from __future__ import annotations

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Stack, wait_for, wait_job_done
from tests.multihost import sizedkind
from webapp.dashboard import queue_overview
from webapp.jobs import JobRefused, job_create
from webapp.metrics import metrics_text
from webapp.models import Job, Worker

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_sizes(django_db_blocker, redis_client, tmp_path):
    """A small worker (500 MB, queue "sized") and a big one (4000 MB, both queues)."""
    kinds = "tests.webapp.testkind,tests.multihost.sizedkind"
    stacks = {
        name: Stack(tmp_path, STUDIO_EXTRA_JOB_KINDS=kinds, STUDIO_WORKER_CAPACITY_MB=mb)
        for name, mb in (("small", "500"), ("big", "4000"))
    }
    with django_db_blocker.unblock(), override_settings(JOB_QUEUES=sizedkind.QUEUES):
        try:
            small = stacks["small"].worker(name="small", queues="sized")
            big = stacks["big"].worker(name="big", queues="sized,sized-large")
            yield small.worker_names, big.worker_names
        finally:
            for stack in stacks.values():
                stack.stop()
            Worker.objects.filter(queues__startswith="sized").delete()


def _sized(user, memory_mb: int, **params) -> Job:
    return job_create(user=user, kind="countdown-sized", params={"memory_mb": memory_mb, **params})


def test_a_big_job_waits_for_the_big_worker_and_never_lands_on_the_small_one(two_sizes, make_user):
    small, big = two_sizes
    (small_row,) = Worker.objects.filter(name__in=small)
    assert small_row.capacity_mb == 500 and small_row.queues == "sized"
    user = make_user("sizes")
    busy = _sized(user, 1000, steps=30, delay=0.1)  # keeps the big worker busy ~3 s
    assert busy.queue == "sized-large"
    wait_for(lambda: Job.objects.filter(pk=busy.pk, status="running").exists(),
             what="the big worker to take the first big job")  # fmt: skip
    waiting = _sized(user, 2000, steps=2, delay=0.05)
    assert waiting.queue == "sized-large"
    small_one = _sized(user, 100, steps=2, delay=0.05)
    assert small_one.queue == "sized"
    wait_job_done(small_one)  # the small worker is idle and willing, and yet...
    waiting.refresh_from_db()
    assert waiting.status == "queued" and waiting.worker == ""

    busy, waiting = wait_job_done(busy), wait_job_done(waiting)
    assert waiting.status == "succeeded" and waiting.worker in big
    assert waiting.started_at >= busy.finished_at
    assert not Job.objects.filter(worker__in=small, queue="sized-large").exists()

    overview = queue_overview(busy.finished_at)
    assert (overview["sized"]["workers"], overview["sized"]["capacity_mb"]) == (2, 500)
    assert (overview["sized-large"]["workers"], overview["sized-large"]["capacity_mb"]) == (
        1,
        4000,
    )
    scraped = {
        (sample.name, sample.labels.get("queue")): sample.value
        for family in text_string_to_metric_families(metrics_text().decode())
        for sample in family.samples
    }
    assert scraped["studio_queue_workers", "sized"] == 2
    assert scraped["studio_queue_capacity_bytes", "sized-large"] == 4000 * 2**20


def test_a_job_no_worker_can_hold_is_refused_and_nothing_is_queued(two_sizes, make_user):
    user = make_user("too-big")
    with pytest.raises(JobRefused) as refused:
        _sized(user, 6000)
    assert "No worker now running can hold it" in str(refused.value)
    assert "4,000 MB" in str(refused.value)  # the largest queue's limit, named
    assert not Job.objects.filter(user=user).exists()
