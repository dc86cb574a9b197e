"""Limits that cannot be raced, and a cost budget checked before anything is queued."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connection

from tests.conftest import wait_job_done
from webapp.jobs import JobRefused, job_cancel, job_create, job_requeue, job_retry
from webapp.models import Job, JobStatus

pytestmark = pytest.mark.django_db(transaction=True)
PARKED = "countdown-parked"  # its queue has no worker, so its jobs stay queued


def at_once(count: int, action) -> list[str]:
    """Run `action(i)` in `count` threads released together; each returns "ok" or why not."""
    gate, outcomes = threading.Barrier(count), [""] * count

    def one(i: int) -> None:
        try:
            gate.wait()
            action(i)
            outcomes[i] = "ok"
        except JobRefused as exc:
            outcomes[i] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    close_old_connections()
    return outcomes


def test_simultaneous_creates_never_pass_the_per_user_limit(make_user, settings):
    settings.USER_MAX_ACTIVE_JOBS = 5
    user = make_user()
    outcomes = at_once(20, lambda i: job_create(user=user, kind=PARKED, params={"i": i}))
    assert outcomes.count("ok") == 5
    assert all("the limit is 5" in o for o in outcomes if o != "ok")
    assert Job.objects.filter(user=user).count() == 5


def test_simultaneous_retries_never_pass_the_per_user_limit(make_user, settings):
    user = make_user()
    jobs = [job_create(user=user, kind=PARKED, params={}) for _ in range(20)]
    for job in jobs:
        job_cancel(job=job)
    settings.USER_MAX_ACTIVE_JOBS = 5
    outcomes = at_once(20, lambda i: job_retry(job=jobs[i]))
    assert outcomes.count("ok") == 5
    assert Job.objects.filter(user=user, status=JobStatus.QUEUED).count() == 5
    with pytest.raises(JobRefused, match="the limit is 5"):
        job_retry(job=Job.objects.filter(status=JobStatus.CANCELLED).first())


def test_staff_requeue_is_not_counted_against_the_limit(make_user, settings):
    user = make_user()
    settings.USER_MAX_ACTIVE_JOBS = 1
    job = job_create(user=user, kind=PARKED, params={})
    assert job_requeue(job=job).status == JobStatus.QUEUED


def test_a_job_over_the_memory_budget_is_refused_with_what_to_lower(make_user, settings):
    settings.JOB_MAX_MEMORY_MB = 512
    user = make_user()
    with pytest.raises(JobRefused) as refused:
        job_create(user=user, kind=PARKED, params={"memory_mb": 4096}, files={"a": b"x"})
    message = str(refused.value)
    assert "about 4,096 MB of memory on the cpu (the limit is 512 MB)" in message
    assert "lower memory_mb to 512" in message
    assert not Job.objects.exists()


def test_a_job_over_the_time_budget_is_refused(make_user, settings):
    settings.JOB_MAX_RUNTIME_S = 3600
    with pytest.raises(JobRefused, match=r"run for about 3.0 hours on the cpu \(the limit is 60"):
        job_create(user=make_user(), kind=PARKED, params={"runtime_s": 3 * 3600})


@pytest.mark.stack
def test_a_job_past_the_memory_ceiling_fails_cleanly_and_the_worker_goes_on(stack, make_user):
    """The estimate can be wrong: the worker still stops a job that asks for more than
    JOB_MAX_MEMORY_MB (8 GB here) with a clear message, and runs the next job."""
    user = make_user()
    greedy = job_create(user=user, kind="countdown", params={"allocate_mb": 20_000, "steps": 1})
    after = job_create(user=user, kind="countdown", params={"steps": 2, "delay": 0.01})
    wait_job_done(greedy)
    assert greedy.status == JobStatus.FAILED
    assert "more than the 8,192 MB of memory a job may use" in greedy.error
    wait_job_done(after)
    assert after.status == JobStatus.SUCCEEDED
