"""The job lifecycle through a real Celery worker, real Redis and the real database."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from django.db import transaction

from tests.conftest import countdown_on, session_cookie, wait_for, wait_job_done, ws_collect
from webapp import runner
from webapp.jobs import JobRefused, job_cancel, job_create, job_retry, jobs_reap, jobs_resend_lost
from webapp.models import Job, JobStatus
from webapp.tasks import job_task

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def runs_logged(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_job_runs_end_to_end_and_websocket_sees_snapshot_progress_result(
    stack, make_user, tmp_path
):
    user = make_user()
    job = job_create(user=user, kind="countdown", params={"steps": 12, "delay": 0.25})
    url = stack.base_url.replace("http", "ws") + f"/ws/jobs/{job.id}/"
    msgs = asyncio.run(
        ws_collect(
            url,
            cookie=session_cookie(user),
            origin=stack.base_url,
            until=lambda m: m["type"] == "result" or m.get("job", {}).get("status") == "failed",
        )
    )
    types = [m["type"] for m in msgs]
    assert types[0] == "snapshot"
    assert types[-1] == "result", types
    progress = [m["progress"] for m in msgs if m["type"] == "progress"]
    assert len(progress) >= 3, types
    assert progress == sorted(progress), "progress went backwards"
    versions = [m["version"] for m in msgs]
    assert versions == sorted(versions), "events out of order"
    result = msgs[-1]["job"]
    assert result["status"] == "succeeded" and result["progress"] == 1.0
    assert result["result"]["steps_done"] == 12
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.worker and job.attempts == 1
    assert job.metrics["step"] == 12


def test_same_task_delivered_twice_runs_the_job_once(stack, make_user, tmp_path):
    log = tmp_path / "runs.log"
    job = job_create(
        user=make_user(), kind="countdown", params={"steps": 3, "delay": 0.2, "log": str(log)}
    )
    job_task.apply_async(args=[str(job.id)], queue="gpu")  # a second delivery of the message
    job_task.apply_async(args=[str(job.id)], queue="gpu")  # and a third
    wait_job_done(job)
    wait_for(lambda: stack.redis_llen("gpu") == 0, what="the queue to drain")
    assert job.status == JobStatus.SUCCEEDED
    assert len(runs_logged(log)) == 1
    assert runner.job_execute(str(job.id), "late-delivery") == "skipped"
    assert len(runs_logged(log)) == 1


def test_cancelled_queued_job_never_runs(stack, make_user, tmp_path):
    log = tmp_path / "runs.log"
    with transaction.atomic():  # the message leaves on commit, after the cancel
        job = job_create(user=make_user(), kind="countdown", params={"steps": 2, "log": str(log)})
        job_cancel(job=job)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    wait_for(lambda: stack.redis_llen("gpu") == 0, what="the message to be consumed")
    time.sleep(1)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.started_at is None
    assert runs_logged(log) == []


def test_cancel_running_job_stops_it_at_the_next_step(stack, make_user):
    job = job_create(user=make_user(), kind="countdown", params={"steps": 200, "delay": 0.05})
    wait_for(lambda: Job.objects.get(pk=job.pk).progress > 0.02, what="the job to make progress")
    job_cancel(job=job)
    wait_job_done(job, timeout=10)
    assert job.status == JobStatus.CANCELLED
    assert job.result["steps_done"] < 200
    with pytest.raises(JobRefused):
        job_cancel(job=job)


def test_retry_a_failed_job(stack, make_user, tmp_path):
    fixed = tmp_path / "fixed"
    job = job_create(
        user=make_user(),
        kind="countdown",
        params={"steps": 3, "delay": 0.05, "fail_unless": str(fixed), "fail_at": 2},
    )
    wait_job_done(job)
    assert job.status == JobStatus.FAILED
    assert job.error == "Step 2 failed on purpose."
    fixed.touch()
    job_retry(job=job)
    wait_job_done(job)
    assert job.status == JobStatus.SUCCEEDED and job.error == ""
    with pytest.raises(JobRefused):
        job_retry(job=job)


def test_worker_killed_mid_job_is_requeued_and_finishes(stack, make_user, tmp_path):
    log = tmp_path / "runs.log"
    doomed = stack.worker(queues="doomed", name="doomed")
    job = countdown_on("doomed", user=make_user(), steps=100, delay=0.05, log=str(log))
    wait_for(lambda: Job.objects.get(pk=job.pk).progress > 0.05, what="the doomed worker to start")
    doomed.kill()  # SIGKILL to the worker and its pool child: no goodbye, no ack
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.worker in doomed.worker_names
    Job.objects.filter(pk=job.pk).update(queue="gpu")  # where the surviving worker listens
    reaped = wait_for(lambda: jobs_reap(), timeout=30, what="the reaper to notice")
    assert [j.pk for j in reaped] == [job.pk]
    assert "stopped responding" in reaped[0].error
    wait_job_done(job)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    assert len(runs_logged(log)) == 2


def test_reaper_gives_up_after_the_attempt_limit(make_user, settings):
    from django.utils import timezone

    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 5)
    job = Job.objects.create(
        user=make_user(),
        kind="countdown",
        status=JobStatus.RUNNING,
        worker="gone:1",
        attempts=settings.JOB_MAX_ATTEMPTS,
        started_at=stale,
        heartbeat_at=stale,
    )
    fresh = Job.objects.create(
        user=job.user,
        kind="countdown",
        status=JobStatus.RUNNING,
        worker="alive:1",
        attempts=1,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    unwanted = Job.objects.create(
        user=job.user,
        kind="countdown",
        status=JobStatus.RUNNING,
        worker="gone:2",
        attempts=1,
        started_at=stale,
        heartbeat_at=stale,
        cancel_requested=True,
    )
    assert {j.pk for j in jobs_reap()} == {job.pk, unwanted.pk}
    unwanted.refresh_from_db()
    assert unwanted.status == JobStatus.CANCELLED  # not run again: the user wanted it stopped
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == (
        f"Failed: the worker gone:1 stopped responding on each of "
        f"{settings.JOB_MAX_ATTEMPTS} attempts."
    )
    assert job.failure["type"] == "WorkerLost" and job.failure["worker"] == "gone:1"
    assert fresh.status == JobStatus.RUNNING


def test_one_users_many_jobs_do_not_starve_another_users_one(stack, make_user):
    hog, newcomer = make_user("hog"), make_user("newcomer")
    with transaction.atomic():  # all tokens reach the queue at once, the hog's first
        hogs = [
            job_create(user=hog, kind="countdown", params={"steps": 2, "delay": 0.1})
            for _ in range(4)
        ]
        theirs = job_create(user=newcomer, kind="countdown", params={"steps": 2, "delay": 0.1})
    for job in [*hogs, theirs]:
        wait_job_done(job)
    order = sorted([*hogs, theirs], key=lambda j: j.started_at)
    assert order[0].user == hog  # both unserved: the older job goes first
    assert order[1] == theirs  # then the user not served yet, before the hog's 2nd job
    assert all(j.status == JobStatus.SUCCEEDED for j in order)


def test_queued_job_whose_message_was_lost_is_sent_again(stack, make_user, redis_client, settings):
    from django.utils import timezone

    # A queued row with no message in the broker: what a Redis restart leaves behind.
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 5)
    job = Job.objects.create(
        user=make_user(), kind="countdown", params={"steps": 2, "delay": 0}, queued_at=long_ago
    )
    wait_for(lambda: stack.redis_llen("gpu") == 0, what="the queue to be empty")
    assert jobs_resend_lost() == 1
    wait_job_done(job)
    assert job.status == JobStatus.SUCCEEDED
    assert jobs_resend_lost() == 0
