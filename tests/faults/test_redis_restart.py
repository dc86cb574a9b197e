"""Redis restarts (empty) while jobs are queued and running: nothing is lost or stuck."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.conftest import Stack, free_port, session_cookie, wait_for, ws_collect
from webapp.models import Job, JobStatus

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_jobs_survive_a_redis_restart(make_user, tmp_path, django_db_blocker):
    port = free_port()
    own = Stack(tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0")
    try:
        redis_proc = own.redis()
        worker = own.worker(name="survivor")
        own.beat()
        _, base_url = own.web()
        user = make_user()
        # Rows are written here; the messages go through this stack's own Redis.
        running = Job.objects.create(
            user=user, kind="countdown", params={"steps": 60, "delay": 0.1}
        )
        waiting = Job.objects.create(user=user, kind="countdown", params={"steps": 3, "delay": 0.1})
        own_send(own, running)
        own_send(own, waiting)
        wait_for(lambda: Job.objects.get(pk=running.pk).progress > 0.1, what="the first job to run")

        redis_proc.kill(signal.SIGKILL)  # Redis dies: the queued message and groups are gone
        redis_proc.popen.wait(5)
        redis_proc = own.redis()  # back, empty

        for job in (running, waiting):
            wait_for(
                lambda j=job: Job.objects.get(pk=j.pk).status == JobStatus.SUCCEEDED,
                timeout=90,
                what=f"job {job.id} to finish after the restart",
            )
        # The web server talks to the new Redis too: a page that reconnects sees the truth.
        url = base_url.replace("http", "ws") + f"/ws/jobs/{waiting.id}/"
        msgs = asyncio.run(
            ws_collect(url, cookie=session_cookie(user), origin=base_url, until=lambda m: True)
        )
        assert msgs[0]["job"]["status"] == "succeeded"
        # The queued job's message died with Redis; the reaper sent a new one.
        assert f"job {waiting.id} waited with no message" in worker.log()
        assert (
            Job.objects.get(pk=running.pk).attempts + Job.objects.get(pk=waiting.pk).attempts <= 3
        )
    finally:
        own.stop()


def own_send(stack: Stack, job: Job) -> None:
    """Send the job's token through the stack's own broker, as job_create would."""
    from webapp.celery import app

    with app.connection_for_write(stack.env["REDIS_URL"]) as conn:
        app.send_task("webapp.tasks.run_job", args=[str(job.id)], queue=job.queue, connection=conn)
