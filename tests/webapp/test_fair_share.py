"""Preemptive fair share on a one-worker site: a long job that can checkpoint yields the
only worker to another user's job that has waited JOB_FAIR_SHARE_WAIT_S, and resumes to
the same result; a job that cannot yield, or one of the same user, is left alone."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from tests.conftest import Stack, countdown_on, wait_for, wait_job_done
from tests.playground.test_job import DROPOUT_NET, assert_same_run, params
from webapp.dashboard import dashboard_stats
from webapp.jobs import job_cancel, job_claim, job_yield_check
from webapp.models import Job, JobStatus, Worker

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

QUEUE = "fair"  # only this module's worker listens here: a one-worker site
WAIT_S, MIN_RUN_S = 2, 4  # the site's settings, small so that the tests are quick


@pytest.fixture(scope="module")
def one_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        own = Stack(
            tmp_path_factory.mktemp("fair-share"),
            JOB_FAIR_SHARE_WAIT_S=str(WAIT_S),
            JOB_FAIR_SHARE_MIN_RUN_S=str(MIN_RUN_S),
        )
        try:
            yield own.worker(queues=QUEUE, name="only")
        finally:
            own.stop()


def runs(log) -> list[float]:
    """When each run of a countdown job began (it logs one line per run)."""
    return [float(line.rsplit(" at ", 1)[1]) for line in log.read_text().splitlines()]


def started(job: Job) -> Job:
    wait_for(lambda: Job.objects.get(pk=job.pk).progress > 0.02, what="the long job to start")
    return job


def yielded(job: Job) -> Job:
    """Catch the job while it is back in the queue after yielding; what its page shows."""

    def back_in_queue():
        job.refresh_from_db()
        return job.status == JobStatus.QUEUED and job.result.get("paused")

    wait_for(back_in_queue, timeout=40, interval=0.02, what="the long job to yield")
    return job


def test_another_users_short_job_goes_in_between_and_the_long_one_resumes(
    one_worker, make_user, tmp_path
):
    ada, bob = make_user("ada"), make_user("bob")
    log = tmp_path / "ada.log"
    long = started(countdown_on(QUEUE, user=ada, steps=200, delay=0.1, log=str(log)))
    short = countdown_on(QUEUE, user=bob, steps=10, delay=0.1)

    note = yielded(long)
    assert note.worker == "" and note.attempts == 0
    assert "Yielded the worker to another user's job" in note.error
    assert "resumes automatically" in note.error
    assert wait_job_done(short, timeout=30).status == JobStatus.SUCCEEDED
    wait_job_done(long, timeout=90)

    assert long.status == JobStatus.SUCCEEDED and long.error == ""
    first, resumed = runs(log)
    assert first < short.started_at.timestamp() < resumed  # in between, not after
    assert short.wait_seconds >= WAIT_S  # it waited the setting, then got the worker
    assert 0 < long.result["resumed_from"] < 200 and long.result["steps_done"] == 200
    assert long.metrics["step"] == 200 and long.metrics["loss"] == 1 / 200


def test_a_job_that_cannot_yield_is_left_alone(one_worker, make_user, tmp_path):
    ada, bob = make_user("ada"), make_user("bob")
    log = tmp_path / "ada.log"
    long = started(
        countdown_on(QUEUE, user=ada, kind="countdown-steadfast", steps=60, delay=0.1,
                     log=str(log))
    )  # fmt: skip
    short = countdown_on(QUEUE, user=bob, steps=2, delay=0.05)
    wait_job_done(short, timeout=60)
    long.refresh_from_db()
    assert long.status == JobStatus.SUCCEEDED and len(runs(log)) == 1
    assert short.started_at >= long.finished_at
    assert long.result["resumed_from"] == 0


def test_a_job_is_not_yielded_to_a_job_of_the_same_user(one_worker, make_user, tmp_path):
    ada = make_user("ada")
    log = tmp_path / "ada.log"
    long = started(countdown_on(QUEUE, user=ada, steps=60, delay=0.1, log=str(log)))
    short = countdown_on(QUEUE, user=ada, steps=2, delay=0.05)
    wait_job_done(short, timeout=60)
    long.refresh_from_db()
    assert long.status == JobStatus.SUCCEEDED and len(runs(log)) == 1
    assert short.started_at >= long.finished_at


def test_a_resumed_job_runs_the_minimum_time_before_it_yields_again(
    one_worker, make_user, tmp_path
):
    """Bob queues two jobs. Ada's yields to the first; then she, served less recently
    than Bob, goes before his second, which has waited long already: without the
    minimum run her job would yield again at once, back and forth."""
    ada, bob = make_user("ada"), make_user("bob")
    log = tmp_path / "ada.log"
    long = started(countdown_on(QUEUE, user=ada, steps=150, delay=0.1, log=str(log)))
    with transaction.atomic():
        second = countdown_on(QUEUE, user=bob, steps=2, delay=0.05)
        first = countdown_on(QUEUE, user=bob, steps=2, delay=0.05)
    for job in (first, second, long):
        assert wait_job_done(job, timeout=90).status == JobStatus.SUCCEEDED
    begun = runs(log)
    assert len(begun) == 3, begun
    one, two = sorted([first, second], key=lambda j: j.started_at)
    assert begun[0] < one.started_at.timestamp() < begun[1] < two.started_at.timestamp()
    # the run between Bob's two jobs lasted the minimum (less the claim-to-log moment)
    assert two.started_at.timestamp() - begun[1] >= MIN_RUN_S - 1
    assert long.result["steps_done"] == 150


def test_a_training_run_yields_and_resumes_to_the_same_losses_and_weights(
    one_worker, make_user
):
    ada, bob = make_user("ada"), make_user("bob")
    # Long enough (about 2,400 steps) that it is still running when the yield comes, however
    # fast this machine trains: at 2 epochs a quiet machine finished before its minimum run.
    run = params(spec=DROPOUT_NET, epochs=12, max_samples=1000, batch_size=4, seed=7,
                 augment={"hflip": True, "vflip": False, "rotate": 0.0, "shift": 1, "color": 0})
    job = countdown_on(QUEUE, user=ada, kind="train", **run)
    wait_for(lambda: Job.objects.get(pk=job.pk).metrics.get("last", {}).get("step", 0) >= 5,
             timeout=60, what="five steps")
    theirs = countdown_on(QUEUE, user=bob, steps=10, delay=0.1)
    note = yielded(job)
    assert "resumes automatically" in note.error and note.result["step"] > 5
    assert wait_job_done(theirs, timeout=30).status == JobStatus.SUCCEEDED
    wait_job_done(job, timeout=180)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert theirs.started_at < job.finished_at
    assert job.metrics["state"] == "finished" and job.result["summary"]["epochs"] == 12

    twin = countdown_on(QUEUE, user=ada, kind="train", **run)  # alone: it never yields
    wait_job_done(twin, timeout=180)
    client = Client()
    client.force_login(ada)
    assert_same_run(client, job, twin)


# -- the decision, from rows (no worker) ----------------------------------------------------


def running_row(user, *, kind="countdown", worker="w1", ran_s=60.0, **fields) -> Job:
    now = timezone.now()
    return Job.objects.create(
        user=user, kind=kind, queue="parked", status=JobStatus.RUNNING, worker=worker,
        started_at=now - timedelta(seconds=ran_s), heartbeat_at=now, **fields,
    )  # fmt: skip


def waiting_row(user, *, waited_s=60.0) -> Job:
    at = timezone.now() - timedelta(seconds=waited_s)
    return Job.objects.create(user=user, kind="countdown", queue="parked", queued_at=at)


def test_the_decision_needs_a_full_pool_a_long_wait_and_a_long_enough_run(make_user, settings):
    settings.JOB_FAIR_SHARE_WAIT_S, settings.JOB_FAIR_SHARE_MIN_RUN_S = 30, 20
    ada, bob = make_user("ada"), make_user("bob")
    Worker.objects.create(name="w1", hostname="h", device="CPU", queues="parked")
    idle = Worker.objects.create(name="w2", hostname="h", device="CPU", queues="parked")
    job = running_row(ada)
    waiting_row(bob, waited_s=10)
    assert not job_yield_check(job_id=job.pk, worker="w1")  # waited less than 30 s
    waiting_row(bob, waited_s=40)
    assert not job_yield_check(job_id=job.pk, worker="w1")  # w2 is idle: it will take it
    idle.delete()
    fresh = running_row(ada, worker="w3", ran_s=5)
    assert not job_yield_check(job_id=fresh.pk, worker="w3")  # ran less than 20 s
    assert job_yield_check(job_id=job.pk, worker="w1")
    job.refresh_from_db()
    assert job.yield_requested_at is not None
    settings.JOB_FAIR_SHARE_WAIT_S = 0  # off
    assert not job_yield_check(job_id=fresh.pk, worker="w3")


def test_one_job_yields_per_waiting_user_and_an_unheeded_request_passes_on(
    make_user, settings
):
    settings.JOB_FAIR_SHARE_WAIT_S, settings.JOB_FAIR_SHARE_MIN_RUN_S = 30, 20
    ada, bob, cy = make_user("ada"), make_user("bob"), make_user("cy")
    older = running_row(ada, worker="w1", ran_s=100)
    newer = running_row(ada, worker="w2", ran_s=50)
    waiting_row(bob)
    waiting_row(bob)  # one user waiting with two jobs: one worker is enough
    assert not job_yield_check(job_id=newer.pk, worker="w2")
    assert job_yield_check(job_id=older.pk, worker="w1")  # the longest running of Ada's
    assert not job_yield_check(job_id=newer.pk, worker="w2")  # Bob is served by that one
    waiting_row(cy)
    assert job_yield_check(job_id=newer.pk, worker="w2")  # a second user: a second worker

    # A request that was not honoured within another wait (the run was exporting, or its
    # kind ignored it) no longer counts: the next job is asked.
    steady = running_row(cy, worker="w3", ran_s=100)
    stale = timezone.now() - timedelta(seconds=40)
    Job.objects.filter(pk__in=[older.pk, newer.pk]).update(yield_requested_at=stale)
    assert job_yield_check(job_id=steady.pk, worker="w3")


def test_a_cancelled_yielded_job_says_its_checkpoint_is_kept(make_user):
    job = waiting_row(make_user())
    Job.objects.filter(pk=job.pk).update(result={"paused": True, "files": []})
    job = job_cancel(job=job)
    assert job.status == JobStatus.CANCELLED
    assert job.error == "Cancelled while waiting to resume; the checkpoint is kept for download."


def test_a_yielded_job_goes_behind_the_job_it_yielded_to(make_user):
    """With several workers the waiting user may have been served after the yielding job
    started (on another worker); the yield itself counts as being served."""
    ada, bob = make_user("ada"), make_user("bob")
    now = timezone.now()
    Job.objects.create(  # Bob's other job, taken by another worker after Ada's had started
        user=bob, kind="countdown", queue="parked", status=JobStatus.RUNNING, worker="w2",
        started_at=now - timedelta(seconds=30),
    )  # fmt: skip
    theirs = waiting_row(bob, waited_s=40)
    Job.objects.create(  # Ada's, back in the queue after it yielded just now
        user=ada, kind="countdown", queue="parked", queued_at=now, yielded_at=now,
        started_at=now - timedelta(seconds=100), result={"paused": True},
    )  # fmt: skip
    claimed = job_claim(job_id=theirs.pk, worker="w1")
    assert claimed.pk == theirs.pk


def test_the_dashboard_shows_a_job_yielding_and_the_jobs_that_yielded(make_user, settings):
    settings.JOB_FAIR_SHARE_WAIT_S = 30
    ada, bob = make_user("ada"), make_user("bob")
    now = timezone.now()
    running_row(ada, yield_requested_at=now)
    running_row(bob, worker="w2", yield_requested_at=now - timedelta(seconds=40))  # unheeded
    back = waiting_row(ada)
    Job.objects.filter(pk=back.pk).update(
        yielded_at=now, started_at=now - timedelta(seconds=50), result={"paused": True}
    )
    waiting_row(bob)
    Job.objects.create(  # yielded once, since taken again, paused and resumed: not counted
        user=bob, kind="countdown", queue="parked", queued_at=now,
        yielded_at=now - timedelta(seconds=60), started_at=now - timedelta(seconds=30),
    )  # fmt: skip
    stats = dashboard_stats()
    assert stats["queues"]["parked"]["jobs"] == 3 and stats["queues"]["parked"]["yielded"] == 1
    assert {j["user"]: j["yielding"] for j in stats["running"]} == {"ada": True, "bob": False}


def test_a_serving_teach_session_ends_for_another_users_waiting_job(one_worker, make_user):
    """A teach job serves a model it has already saved: when another user's job has
    waited, the session ends (the page offers to start serving again) – even while its
    page keeps sending frames – and the waiting job gets the worker."""
    import threading

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from playground.teach.services import TeachError, teach_create, teach_frame
    from tests.conftest import require_model_file

    require_model_file("vgg19_caffe_q.bin")

    def picture(colour) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (24, 24), colour).save(buffer, format="PNG")
        return buffer.getvalue()

    ada, bob = make_user("ada"), make_user("bob")
    pictures = [[SimpleUploadedFile(f"{c}{i}.png", picture(c), "image/png") for i in range(3)]
                for c in ("red", "blue")]  # fmt: skip
    with transaction.atomic():
        job = teach_create(user=ada, classes=["red", "blue"], pictures=pictures)
        job.queue = QUEUE
        job.save(update_fields=["queue"])
    wait_for(lambda: Job.objects.get(pk=job.pk).metrics.get("teach"), timeout=120,
             what="the model to serve")  # fmt: skip
    serving, page_open = Job.objects.get(pk=job.pk), threading.Event()

    def page():  # the teach page, open: a frame every 0.3 s, as the live camera sends them
        while not page_open.wait(0.3):
            try:
                teach_frame(job=serving, frame=picture("red"), frame_id="f")
            except TeachError:
                return

    sender = threading.Thread(target=page, daemon=True)
    sender.start()
    try:
        theirs = countdown_on(QUEUE, user=bob, steps=3, delay=0.05)
        wait_job_done(job, timeout=60)
    finally:
        page_open.set()
        sender.join()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["teach"]["ended"] == "yielded" and job.result["teach"]["served"] > 0
    assert {f["name"] for f in job.result["files"]} >= {"model.pt"}  # the model is kept
    assert wait_job_done(theirs, timeout=30).status == JobStatus.SUCCEEDED
    assert theirs.started_at >= job.finished_at
    assert theirs.wait_seconds < WAIT_S + MIN_RUN_S + 10  # not the page's whole visit
