"""A paused job holds no worker: it checkpoints, leaves, and goes on when resumed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import wait_for, wait_job_done
from webapp.jobs import (
    JobRefused,
    job_cancel,
    job_control,
    job_create,
    job_pause,
    jobs_end_long_pauses,
)
from webapp.models import Job, JobStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.stack]


def paused(job: Job) -> Job:
    wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.PAUSED, what="the pause")
    job.refresh_from_db()
    return job


def started_long_job(user) -> Job:
    job = job_create(user=user, kind="countdown", params={"steps": 60, "delay": 0.05})
    wait_for(lambda: Job.objects.get(pk=job.pk).progress > 0.05, what="the job to start")
    return job


def test_a_paused_job_frees_the_worker_and_resumes_where_it_was(stack, make_user):
    ada, bob = make_user("ada"), make_user("bob")
    job = started_long_job(ada)
    job_control(job=job, changes={"paused": True})
    job = paused(job)
    assert job.worker == "" and job.result["paused"] and job.result["files"]
    stopped_at = job.result["steps_done"]
    assert 0 < stopped_at < 60

    other = job_create(user=bob, kind="countdown", params={"steps": 3, "delay": 0.01})
    wait_job_done(other, timeout=30)  # the only worker is free for Bob
    assert other.status == JobStatus.SUCCEEDED
    assert Job.objects.get(pk=job.pk).status == JobStatus.PAUSED

    job_control(job=job, changes={"paused": False})
    wait_job_done(job)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["resumed_from"] == stopped_at and job.result["steps_done"] == 60


def test_a_paused_job_counts_against_the_limit_and_can_be_cancelled(stack, make_user, settings):
    ada = make_user("ada")
    job = started_long_job(ada)
    job_control(job=job, changes={"paused": True})
    paused(job)
    settings.USER_MAX_ACTIVE_JOBS = 1
    with pytest.raises(JobRefused, match="the limit is 1"):
        job_create(user=ada, kind="countdown", params={})
    job = job_cancel(job=job)
    assert job.status == JobStatus.CANCELLED and "checkpoint is kept" in job.error
    assert job.result["files"][0]["name"] == "checkpoint.json"


def test_a_pause_longer_than_the_limit_ends_the_run_keeping_its_checkpoint(stack, make_user):
    job = started_long_job(make_user())
    job_control(job=job, changes={"paused": True})
    paused(job)
    assert jobs_end_long_pauses(older_than=timedelta(hours=1)) == []
    (ended,) = jobs_end_long_pauses(older_than=timedelta(0))
    assert ended.pk == job.pk and ended.status == JobStatus.CANCELLED
    assert "Paused for longer than 0 s, so the run was ended" in ended.error
    assert ended.result["files"][0]["name"] == "checkpoint.json"
    with pytest.raises(JobRefused):
        job_control(job=ended, changes={"paused": False})


def test_a_cancel_that_lands_while_the_checkpoint_is_saved_wins(make_user):
    job = job_create(user=make_user(), kind="countdown-parked", params={})
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, worker="w1")
    job_cancel(job=job)  # running: only asks it to stop
    ended = job_pause(job_id=job.pk, worker="w1", result={"paused": True, "files": []})
    assert ended.status == JobStatus.CANCELLED and "checkpoint is kept" in ended.error
    assert ended.result["paused"]
