"""A second host for real: a Celery worker in its own network and mount namespaces, which
sees none of the web host's files and reaches Redis and the object store only over its
veth link. Jobs run there and stream to the site's pages; the host dying mid-job, the
store restarting mid-job and a host without the store are each survived."""

from __future__ import annotations

import time

import pytest

from tests.conftest import require_model_file, wait_for
from tests.multihost.conftest import start_second_host_worker
from tests.multihost.kinds import (
    KINDS,
    WEIGHTS,
    check_whole,
    dashboard_workers,
    fetch,
    result_files,
    start,
    watch,
)
from tests.playground.test_job import timeless
from webapp.models import Job, JobStatus, Worker

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

# A run long enough to be caught in the middle (several epochs, each saving its view).
LONG_RUN = {"epochs": 6, "max_samples": 480}


@pytest.fixture(scope="module")
def host2_worker(second_host, s3_site, django_db_blocker):
    with django_db_blocker.unblock():
        return start_second_host_worker(second_host, s3_site, name="h2")


def _on_second_host(second_host, job) -> bool:
    return job.worker.startswith(f"{second_host.netns}-host2:")


def _stored_whole(site, job) -> dict[str, bytes]:
    """Every object the job has in the store, each checked to open whole."""
    stored = site.store.objects(f"{job.storage_prefix}/")
    for key, body in stored.items():
        if "/input/" not in key:
            check_whole(key, body)
    return stored


def test_the_second_host_sees_none_of_the_web_hosts_files(second_host, host2_worker):
    import subprocess
    from pathlib import Path

    from django.conf import settings

    pid = str(host2_worker.pid)
    ls = subprocess.run(
        ["nsenter", "-t", pid, "-m", "ls", "-A", str(Path(settings.BASE_DIR) / "data" / "")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert ls.stdout.strip() == ""  # data/ is an empty tmpfs there
    routes = subprocess.run(
        ["ip", "-n", second_host.netns, "-o", "-4", "addr"], capture_output=True, text=True
    ).stdout
    assert f"{second_host.ns_ip}/30" in routes and "127.0.0.1/8" in routes
    assert len([line for line in routes.splitlines() if "inet " in line]) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_job_of_each_kind_runs_on_the_second_host_and_streams(
    kind, second_host, host2_worker, s3_site, make_user
):
    if kind in WEIGHTS:
        require_model_file(WEIGHTS[kind])
    user = make_user(f"h2-{kind}")
    job = start(kind, user)
    events = watch(s3_site, job)
    job.refresh_from_db()
    assert job.status == "succeeded", (job.error, host2_worker.log()[-3000:])
    assert _on_second_host(second_host, job), job.worker
    assert [e for e in events if e["type"] not in ("snapshot", "status", "result")]
    for name, url in result_files(job):
        check_whole(name, fetch(s3_site, user, url))
    page = fetch(s3_site, user, job.get_absolute_url()).decode()
    assert str(job.id) in page


def test_the_second_host_killed_mid_job_is_finished_on_the_first(
    second_host, host2_worker, s3_site, make_user, django_db_blocker
):
    user = make_user("h2-killed")
    job = start("train", user, **LONG_RUN)
    wait_for(
        lambda: Job.objects.filter(pk=job.pk, status="running", progress__gt=0.1).exists(),
        timeout=120, what="the run to get going on the second host",
    )  # fmt: skip
    job.refresh_from_db()
    assert _on_second_host(second_host, job)
    second_host.kill_all()  # the second host loses power: every process there, SIGKILL
    with django_db_blocker.unblock():
        first = s3_site.worker(name="h1", queues="gpu,default")
    try:
        events = watch(s3_site, job)
        job.refresh_from_db()
        assert job.status == "succeeded", job.error
        assert job.worker in first.worker_names and job.attempts == 2
        assert events[-1]["type"] == "result"
        stored = _stored_whole(s3_site, job)
        for name, url in result_files(job):
            assert fetch(s3_site, user, url) == stored[f"{job.storage_prefix}/{name}"]
    finally:
        first.stop()
        with django_db_blocker.unblock():
            Worker.objects.filter(name__in=first.worker_names).delete()


def test_the_object_store_restarted_mid_job_leaves_no_half_written_file(
    second_host, s3_site, make_user, django_db_blocker
):
    with django_db_blocker.unblock():
        worker = start_second_host_worker(second_host, s3_site, name="h2b")
    user = make_user("h2-store")
    job = start("train", user, **LONG_RUN)
    wait_for(
        lambda: Job.objects.filter(pk=job.pk, status="running", progress__gt=0.1).exists(),
        timeout=120, what="the run to get going on the second host",
    )  # fmt: skip
    s3_site.store.restart(down_s=2)
    job = wait_for(
        lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
        timeout=240, what="the run to end",
    )  # fmt: skip
    if job.status == JobStatus.FAILED:  # the store's retries ran out: say so, plainly
        assert "file store could not be reached" in job.error, job.error
    else:
        for name, url in result_files(job):
            check_whole(name, fetch(s3_site, user, url))
    _stored_whole(s3_site, job)
    assert worker.popen.poll() is None, "the worker died with the store"


def test_a_second_host_without_the_store_takes_no_jobs_and_says_so(
    second_host, s3_site, make_user, django_db_blocker
):
    from tests.conftest import free_port

    unreachable = s3_site.store.url(second_host.host_ip).replace(
        f":{s3_site.store.port}", f":{free_port()}"
    )
    with django_db_blocker.unblock():
        proc = start_second_host_worker(
            second_host, s3_site, name="h2c", queues="lonely2", STORAGE_URL=unreachable
        )
    (row,) = proc.rows
    assert row.queues == "" and "Takes no jobs" in row.stats["refused"], row.stats
    from tests.conftest import countdown_on

    job = countdown_on("lonely2", user=make_user("h2-lonely"), steps=1)
    time.sleep(4)
    job.refresh_from_db()
    assert job.status == "queued" and job.worker == ""
    shown = dashboard_workers(s3_site, make_user("h2-staff", staff=True))[row.name]
    assert "cannot reach the object store" in shown["stats"]["refused"]


def test_a_run_paused_on_the_second_host_resumes_on_the_first_with_the_same_losses(
    second_host, s3_site, make_user, django_db_blocker
):
    from webapp.jobs import job_control

    second_host.kill_all()  # the earlier tests' workers there: this run starts afresh
    with django_db_blocker.unblock():
        start_second_host_worker(second_host, s3_site, name="h2p")
    user = make_user("h2-pause")
    # about 770 steps: still running when the pause comes, however fast the host trains
    # (at 2 epochs a quick run finished before its pause was read)
    run = {"epochs": 12, "max_samples": 320, "batch_size": 4, "seed": 7}
    job = start("train", user, **run)
    wait_for(lambda: Job.objects.get(pk=job.pk).metrics.get("last", {}).get("step", 0) >= 10,
             timeout=120, what="ten steps on the second host")  # fmt: skip
    job.refresh_from_db()
    assert _on_second_host(second_host, job), job.worker
    job_control(job=job, changes={"paused": True})
    wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.PAUSED, timeout=60,
             what="the run to pause")  # fmt: skip
    second_host.kill_all()  # the host it paused on is gone; its checkpoint is in the store
    with django_db_blocker.unblock():
        first = s3_site.worker(name="h1p", queues="gpu,default")
    try:
        job_control(job=job, changes={"paused": False})
        job = wait_for(lambda: Job.objects.filter(pk=job.pk, status="succeeded").first(),
                       timeout=240, what="the resumed run to finish")  # fmt: skip
        assert job.worker in first.worker_names
        twin = start("train", user, **run)  # never paused, on the first host
        twin = wait_for(lambda: Job.objects.filter(pk=twin.pk, status="succeeded").first(),
                        timeout=240, what="the twin to finish")  # fmt: skip

        assert timeless(job.result["history"]) == timeless(twin.result["history"])
        curve = {point[0]: point for point in twin.metrics["curve"]}
        shared = [point for point in job.metrics["curve"] if point[0] in curve]
        assert shared and all(curve[point[0]] == point for point in shared)
    finally:
        first.stop()
        with django_db_blocker.unblock():
            Worker.objects.filter(name__in=first.worker_names).delete()
