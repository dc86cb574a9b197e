"""Worker faults: two workers on one queue, and a deploy's SIGTERM mid-job."""

from __future__ import annotations

import os
import signal

import pytest
from django.db import transaction

from tests.conftest import Stack, countdown_on, wait_for, wait_job_done
from webapp.jobs import job_create, jobs_reap
from webapp.models import Job, JobStatus

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_two_workers_on_one_queue_run_each_job_exactly_once(stack, make_user, tmp_path):
    second = stack.worker(name="second")
    users = [make_user(f"u{i}") for i in range(4)]
    logs = []
    with transaction.atomic():
        jobs = []
        for i in range(12):
            log = tmp_path / f"job{i}.log"
            logs.append(log)
            jobs.append(
                job_create(
                    user=users[i % 4],
                    kind="countdown",
                    params={"steps": 3, "delay": 0.05, "log": str(log)},
                )
            )
    for job in jobs:
        wait_job_done(job, timeout=90)
    assert all(j.status == JobStatus.SUCCEEDED for j in jobs)
    assert [len(log.read_text().splitlines()) for log in logs] == [1] * 12
    workers = {j.worker for j in jobs}
    assert workers & second.worker_names, "the second worker took no job"
    second.stop()


def test_sigterm_during_a_deploy_lets_the_running_job_finish(
    make_user, tmp_path, django_db_blocker
):
    own = Stack(tmp_path)
    try:
        worker = own.worker(queues="deploy", name="deploying")
        job = countdown_on("deploy", user=make_user(), steps=30, delay=0.1)
        wait_for(lambda: Job.objects.get(pk=job.pk).progress > 0.1, what="the job to start")
        # What a deploy does (systemd KillMode=mixed, honcho): SIGTERM to the main process,
        # a warm shutdown that finishes the job in hand and takes no more.
        os.kill(worker.pid, signal.SIGTERM)
        worker.popen.wait(60)
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED and job.result["steps_done"] == 30
    finally:
        own.stop()


def test_pool_child_dying_mid_job_is_requeued_and_the_worker_lives_on(
    make_user, tmp_path, django_db_blocker
):
    """The kernel's OOM killer takes the pool child, not the worker: the parent starts a
    new child, the message goes back (reject on worker lost) and finds the job claimed,
    and the reaper requeues the job once the dead child's heartbeat is stale."""
    own = Stack(tmp_path)
    try:
        worker = own.worker(queues="oom", name="oom")
        log = tmp_path / "runs.log"
        job = countdown_on("oom", user=make_user(), steps=40, delay=0.05, log=str(log))
        wait_for(lambda: Job.objects.get(pk=job.pk).progress > 0.1, what="the job to start")
        child = int(Job.objects.get(pk=job.pk).worker.rsplit(":", 1)[1])
        os.kill(child, signal.SIGKILL)
        reaped = wait_for(lambda: jobs_reap(), timeout=30, what="the reaper to notice")
        assert [j.pk for j in reaped] == [job.pk]
        wait_job_done(job, timeout=60)
        assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
        assert len(log.read_text().splitlines()) == 2
        assert worker.popen.poll() is None, "the worker itself must survive its child"
    finally:
        own.stop()


def test_a_job_longer_than_the_visibility_timeout_is_not_run_twice(
    make_user, tmp_path, django_db_blocker
):
    """Redis hands an unacknowledged message to another worker once the visibility timeout
    passes. Here it is 2 s and the job takes ~8 s: the second delivery must find the job
    claimed and leave it alone."""
    own = Stack(tmp_path, BROKER_VISIBILITY_TIMEOUT_S="2", BROKER_RESTORE_INTERVAL_S="0.5")
    try:
        first = own.worker(queues="slow", name="first", loglevel="info")
        second = own.worker(queues="slow", name="second", loglevel="info")
        log = tmp_path / "runs.log"
        job = countdown_on("slow", user=make_user(), steps=80, delay=0.1, log=str(log))
        wait_job_done(job, timeout=60)
        logs = first.log() + second.log()
        runs = log.read_text().splitlines()
        assert job.status == JobStatus.SUCCEEDED and len(runs) == 1, (runs, logs[-3000:])
        received = [
            line
            for line in logs.splitlines()
            if "webapp.tasks.run_job[" in line and "received" in line
        ]
        assert len(received) >= 2, f"the message was not redelivered:\n{logs[-3000:]}"
    finally:
        own.stop()
