"""The job lifecycle: every state change of every job goes through these functions.

queued -> running -> succeeded | failed | cancelled. Changes are compare-and-set
UPDATEs on the row, so two workers, a reaper and a user clicking "cancel" can race
without a job running twice or ending in two states. Celery messages are sent only
after the transaction commits, and only carry the job id.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Min, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from webapp import events
from webapp.jobkinds import Budget, JobKind, duration_words, get_kind, kind_can_yield
from webapp.models import FINAL_STATES, Job, JobStatus, Worker
from webapp.storage import storage_delete_prefix, store_errors

log = logging.getLogger(__name__)


class JobRefused(Exception):
    """A request about a job that cannot be honoured; the message is shown to the user."""


# The Celery task that runs jobs, sent by name: this module needs no import of the
# task module (which imports the runner, which imports this module).
JOB_TASK = "webapp.tasks.run_job"


def _send(job: Job) -> None:
    from webapp.celery import app

    # job.queue is read at commit: a caller may still route the job inside its transaction
    transaction.on_commit(lambda: app.send_task(JOB_TASK, args=[str(job.id)], queue=job.queue))


def _lock_user_limit(user, *, adding: int = 1) -> None:
    """Refuse when `user` would have more than USER_MAX_ACTIVE_JOBS active jobs.

    Call inside a transaction: the user's row is locked first, so two requests of one
    user are counted one after the other and cannot both slip under the limit.
    """
    # get_user_model(), not type(user): a view's request.user is a lazy wrapper
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    active = Job.objects.filter(user=user).active().count()
    if active + adding > settings.USER_MAX_ACTIVE_JOBS:
        raise JobRefused(
            f"You already have {active} jobs queued, running or paused (the limit is "
            f"{settings.USER_MAX_ACTIVE_JOBS}); wait for one to finish or cancel one."
        )


def job_route(*, kind: JobKind, params: Mapping[str, Any]) -> str:
    """The queue for a job: the smallest of its kind's queues (JOB_QUEUES, smallest
    first) whose live workers can all hold it by the kind's cost estimate.

    With no live worker on any of them the site's own budget decides, and the job waits
    in the kind's queue for a worker to start. Raises JobRefused when the job is over
    the budget of every queue that has workers (or of the site)."""
    queues = kind_queues(kind)
    if kind.estimate is None:
        return queues[0]
    staffed = [q for q in queues if _live_workers(q)] or queues[:1]
    problem = ""
    for queue in staffed:
        budget = job_budget(queue=queue)
        problem = kind.estimate(dict(params), budget).over(budget)
        if not problem:
            return queue
    if len(staffed) > 1:
        problem += " No worker now running can hold it, even on the largest queue."
    raise JobRefused(problem)


def kind_queues(kind: JobKind) -> list[str]:
    """The queues a kind's jobs may go to: its own, then the larger ones after it."""
    if kind.queue not in settings.JOB_QUEUES:
        return [kind.queue]
    return settings.JOB_QUEUES[settings.JOB_QUEUES.index(kind.queue) :]


def _live_workers(queue: str) -> list:
    from webapp.models import Worker

    return [w for w in Worker.objects.alive() if queue in w.queues.split(",")]


def job_budget(*, queue: str) -> Budget:
    """What one job may use on `queue`: the site's limits, within the smallest capacity
    of the queue's live workers (each of them may be the one that takes it)."""
    live = _live_workers(queue)
    capacity = [w.capacity_mb or w.device_memory_mb for w in live]
    capacity = [c for c in capacity if c]
    memory_mb = settings.JOB_MAX_MEMORY_MB
    if capacity:
        memory_mb = min(memory_mb, min(capacity))
    return Budget(
        memory_mb=memory_mb,
        runtime_s=settings.JOB_MAX_RUNTIME_S,
        device="cuda" if any(w.device_memory_mb for w in live) else "cpu",
    )


def job_create(
    *,
    user,
    kind: str,
    params: dict[str, Any],
    files: Mapping[str, File | bytes] | None = None,
    title: str = "",
) -> Job:
    """Store the inputs, write a queued Job row and send its task once committed.

    Raises JobRefused (nothing stored) when the user is at the active-job limit or the
    kind's cost estimate is over the budget of every queue it may go to (job_route)."""
    queue = job_route(kind=get_kind(kind), params=params)
    with transaction.atomic():
        _lock_user_limit(user)
        job = Job(user=user, kind=kind, params=dict(params), title=title[:200], queue=queue)
        stored = _store_inputs(job, files or {})
        if stored:
            job.params["inputs"] = stored
        job.save()
        _send(job)
    return job


def _store_inputs(job: Job, files: Mapping[str, File | bytes]) -> dict[str, str]:
    """Save a new job's uploads; refuse (keeping none of them) when the store is down."""
    stored: dict[str, str] = {}
    try:
        for name, content in files.items():
            blob = ContentFile(content) if isinstance(content, bytes) else content
            stored[name] = default_storage.save(f"{job.storage_prefix}/input/{name}", blob)
    except store_errors() as exc:
        log.warning("could not store the inputs of job %s: %s", job.id, exc)
        with contextlib.suppress(*store_errors()):  # what did reach the store
            storage_delete_prefix(job.storage_prefix)
        raise JobRefused(
            "The file store cannot be reached right now, so nothing was started; "
            "your settings are kept: send the form again in a minute."
        ) from exc
    return stored


def job_files_delete(sender, instance: Job, **_) -> None:
    """Retention: a deleted job's files (inputs, checkpoints, results) go with it, once
    the deletion is committed. Connected to Job's post_delete in WebappConfig.ready."""
    prefix = instance.storage_prefix
    transaction.on_commit(lambda: storage_delete_prefix(prefix), robust=True)


def job_cancel(*, job: Job) -> Job:
    """A queued job is cancelled at once and never runs; a running one stops at its next
    step; a paused one ends where it paused, its checkpoint kept."""
    now = timezone.now()
    with transaction.atomic():
        stopped_queued = (
            Job.objects.filter(
                pk=job.pk, status=JobStatus.QUEUED, result__paused=True
            ).update(  # yielded or resumed, not yet running again
                status=JobStatus.CANCELLED,
                finished_at=now,
                version=F("version") + 1,
                error="Cancelled while waiting to resume; the checkpoint is kept for download.",
            )
            or Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
                status=JobStatus.CANCELLED,
                finished_at=now,
                version=F("version") + 1,
                error="Cancelled before it started.",
            )
            or Job.objects.filter(pk=job.pk, status=JobStatus.PAUSED).update(
                status=JobStatus.CANCELLED,
                finished_at=now,
                version=F("version") + 1,
                error="Cancelled while paused; the checkpoint is kept for download.",
            )
        )
        if not stopped_queued and not Job.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING
        ).update(cancel_requested=True, version=F("version") + 1):
            job.refresh_from_db()
            raise JobRefused(f"This job has already {job.status}; there is nothing to cancel.")
    job.refresh_from_db()
    transaction.on_commit(lambda: events.publish_snapshot(job))
    return job


def job_retry(*, job: Job) -> Job:
    """Run a failed or cancelled job again, from the start, keeping its page and inputs."""
    queue = job_route(kind=get_kind(job.kind), params=job.params)
    with transaction.atomic():
        _lock_user_limit(job.user)
        updated = Job.objects.filter(
            pk=job.pk, status__in=[JobStatus.FAILED, JobStatus.CANCELLED]
        ).update(
            status=JobStatus.QUEUED,
            queue=queue,
            queued_at=timezone.now(),
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
            progress=0.0,
            metrics={},
            result={},
            error="",
            failure={},
            worker="",
            cancel_requested=False,
            control={},
            attempts=0,
            yield_requested_at=None,
            yielded_at=None,
            version=F("version") + 1,
        )
        if not updated:
            job.refresh_from_db()
            raise JobRefused(
                f"Only failed or cancelled jobs can be retried; this one is {job.status}."
            )
        job.refresh_from_db()
        _send(job)
    transaction.on_commit(lambda: events.publish_snapshot(job))
    return job


def job_requeue(*, job: Job, reason: str = "Requeued by staff.") -> Job:
    """Staff action: put a running (stuck) or queued job back in the queue and resend it.
    Not counted against the user's limit: the job was already active."""
    with transaction.atomic():
        if not Job.objects.filter(
            pk=job.pk, status__in=[JobStatus.RUNNING, JobStatus.QUEUED]
        ).update(
            status=JobStatus.QUEUED,
            queued_at=timezone.now(),
            worker="",
            heartbeat_at=None,
            error=reason,
            version=F("version") + 1,
        ):
            job.refresh_from_db()
            raise JobRefused(f"A {job.status} job cannot be requeued; retry it instead.")
        job.refresh_from_db()
        _send(job)
    transaction.on_commit(lambda: events.publish_snapshot(job))
    return job


def job_control(*, job: Job, changes: dict[str, Any]) -> Job:
    """Merge live commands (pause, learning rate, ...) into an active job's control dict.
    Un-pausing a paused job resumes it: it is queued again to go on from its checkpoint."""
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status not in (JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.PAUSED):
            raise JobRefused(f"This job has already {locked.status}.")
        locked.control = {**locked.control, **changes}
        locked.version += 1
        fields = ["control", "version"]
        if locked.status == JobStatus.PAUSED and not locked.control.get("paused"):
            locked.status, locked.queued_at = JobStatus.QUEUED, timezone.now()
            locked.worker, locked.heartbeat_at, locked.attempts = "", None, 0
            locked.error = ""
            fields += ["status", "queued_at", "worker", "heartbeat_at", "attempts", "error"]
        locked.save(update_fields=fields)
        if locked.status == JobStatus.QUEUED and "status" in fields:
            _send(locked)
    transaction.on_commit(lambda: events.publish_snapshot(locked))
    return locked


def job_pause(*, job_id, worker: str, result: dict[str, Any]) -> Job | None:
    """Worker side: compare-and-set running -> paused once the kind saved a checkpoint.
    The worker is free again; `result` (the checkpoint's files) stays on the job. A cancel
    that arrived while the checkpoint was being saved wins: the job ends cancelled."""
    held = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, worker=worker)
    now = timezone.now()
    asked = held.values("yield_requested_at", "control").first()
    if asked and asked["yield_requested_at"] and not asked["control"].get("paused"):
        yielded = _job_yield(job_id=job_id, worker=worker, result=result, now=now)
        if yielded is not None:
            return yielded
    if not (
        held.filter(cancel_requested=False).update(
            status=JobStatus.PAUSED,
            result=result,
            worker="",
            heartbeat_at=now,  # when it paused: the reaper ends long pauses
            version=F("version") + 1,
        )
        or held.filter(cancel_requested=True).update(
            status=JobStatus.CANCELLED,
            result=result,
            finished_at=now,
            error="Cancelled while pausing; the checkpoint is kept for download.",
            version=F("version") + 1,
        )
    ):
        log.warning("job %s was no longer held by %s when it paused", job_id, worker)
        return None
    return Job.objects.get(pk=job_id)


def _job_yield(*, job_id, worker: str, result: dict[str, Any], now) -> Job | None:
    """The pause that fair share asked for: the job goes back to the queue, its
    checkpoint kept, and resumes on its own after the job it yielded to has started."""
    wait = duration_words(settings.JOB_FAIR_SHARE_WAIT_S)
    with transaction.atomic():
        if not Job.objects.filter(
            pk=job_id, status=JobStatus.RUNNING, worker=worker, cancel_requested=False
        ).update(
            status=JobStatus.QUEUED,
            queued_at=now,
            yielded_at=now,  # served until now: job_claim puts it behind the waiting job
            yield_requested_at=None,
            result=result,
            worker="",
            heartbeat_at=None,
            attempts=0,
            error=f"Yielded the worker to another user's job that had waited over {wait}; "
            "resumes automatically from its checkpoint.",
            version=F("version") + 1,
        ):
            return None
        job = Job.objects.get(pk=job_id)
        _send(job)
    return job


def job_claim(*, job_id: str, worker: str) -> Job | None:
    """Take the fairest queued job of `job_id`'s queue: compare-and-set queued -> running.

    A Celery message is a token that runs one job, not necessarily the one it names:
    the worker serves the user who was served least recently (never-served users
    first, then oldest job), so one user's hundred jobs cannot starve another user's
    one. Every job sends one token, so every queued job still gets a run; a repeated
    delivery finds nothing queued, or runs a job whose own token will then find nothing.
    A job that yielded (job_yield_check) counts as served until it yielded, so the
    job it yielded to goes first. Returns None when there is nothing to run.
    """
    queue = Job.objects.filter(pk=job_id).values_list("queue", flat=True).first()
    if queue is None:
        return None
    last_served = (
        Job.objects.filter(user=OuterRef("user"), started_at__isnull=False)
        .annotate(served=Greatest("started_at", Coalesce("yielded_at", "started_at")))
        .order_by("-served")
        .values("served")[:1]
    )
    candidates = (
        Job.objects.filter(status=JobStatus.QUEUED, queue=queue)
        .annotate(last_served=Subquery(last_served))
        .order_by(F("last_served").asc(nulls_first=True), "queued_at")
        .values_list("pk", flat=True)[:10]
    )
    now = timezone.now()
    for pk in candidates:
        claimed = Job.objects.filter(pk=pk, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            worker=worker,
            attempts=F("attempts") + 1,
            version=F("version") + 1,
            error="",
            yield_requested_at=None,
        )
        if claimed:
            return Job.objects.get(pk=pk)
    return None


def job_finish(
    *,
    job_id,
    worker: str,
    status: str,
    result: dict | None = None,
    error: str = "",
    failure: dict | None = None,
) -> Job | None:
    """Compare-and-set running -> a final state, only for the worker that holds the job.
    `failure` (staff-only details of what went wrong) is kept with a failed job."""
    assert status in FINAL_STATES
    fields: dict[str, Any] = dict(
        status=status, finished_at=timezone.now(), error=error, version=F("version") + 1
    )
    if result is not None:
        fields["result"] = result
    if failure is not None:
        fields["failure"] = failure
    if status == JobStatus.SUCCEEDED:
        fields["progress"] = 1.0
    if not Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, worker=worker).update(**fields):
        log.warning(
            "job %s was no longer held by %s when it finished as %s", job_id, worker, status
        )
        return None
    return Job.objects.get(pk=job_id)


def job_yield_check(*, job_id, worker: str) -> bool:
    """Preemptive fair share, asked by the worker with each heartbeat of a running job
    whose kind can yield: ask this job to yield when another user's job has waited
    JOB_FAIR_SHARE_WAIT_S on a full pool. Returns True when it was asked now.

    Every running job of the queue makes the same choice from the same rows – one job
    per waiting user (oldest wait first), taken from the user holding the most workers,
    then the longest running, each having run JOB_FAIR_SHARE_MIN_RUN_S – and asks only
    itself, so the workers need not agree on anything. The kind yields at its next
    step through its pause path (JobContext.controls says "paused"; job_pause requeues
    it). A request not honoured within another wait (the run was loading or exporting)
    stops counting, and the next job is asked.
    """
    wait_s, min_run_s = settings.JOB_FAIR_SHARE_WAIT_S, settings.JOB_FAIR_SHARE_MIN_RUN_S
    if wait_s <= 0:
        return False
    now = timezone.now()
    waited, ran = now - timedelta(seconds=wait_s), now - timedelta(seconds=min_run_s)
    job = Job.objects.filter(
        pk=job_id, status=JobStatus.RUNNING, worker=worker, yield_requested_at__isnull=True
    ).first()
    if job is None or job.started_at is None or job.started_at > ran:
        return False
    waiting = [  # each waiting user once, the longest waiting first: one list for all
        row["user"]
        for row in Job.objects.filter(
            status=JobStatus.QUEUED, queue=job.queue, queued_at__lte=waited
        )
        .values("user")
        .annotate(since=Min("queued_at"))
        .order_by("since", "user")
    ]
    if all(user == job.user_id for user in waiting) or _pool_has_room(job.queue):
        return False
    running = list(Job.objects.filter(status=JobStatus.RUNNING, queue=job.queue))
    asked = [r for r in running if r.yield_requested_at and r.yield_requested_at > waited]
    held = Counter(r.user_id for r in running)
    candidates = sorted(
        (
            r
            for r in running
            if r.yield_requested_at is None
            and r.started_at is not None
            and r.started_at <= ran
            and kind_can_yield(r.kind)
        ),
        key=lambda r: (-held[r.user_id], r.started_at, str(r.pk)),
    )
    for user in waiting:
        covered = next((r for r in asked if r.user_id != user), None)
        if covered is not None:  # a job already on its way out frees a worker for them
            asked.remove(covered)
            continue
        pick = next((r for r in candidates if r.user_id != user), None)
        if pick is None:
            continue
        if pick.pk == job.pk:
            return bool(
                Job.objects.filter(
                    pk=job.pk, status=JobStatus.RUNNING, worker=worker,
                    yield_requested_at__isnull=True,
                ).update(yield_requested_at=now)
            )  # fmt: skip
        candidates.remove(pick)
    return False


def _pool_has_room(queue: str) -> bool:
    """Whether a live worker of `queue` is idle (then a waiting job needs no yield)."""
    busy = Job.objects.filter(status=JobStatus.RUNNING).values("worker")
    return Worker.objects.alive().filter(queues__contains=queue).exclude(name__in=busy).exists()


def jobs_reap(*, stale_after: timedelta | None = None) -> list[Job]:
    """Requeue (or, past the attempt limit, fail) running jobs whose worker stopped beating.
    A job the user had asked to cancel is cancelled instead of run again."""
    stale_after = stale_after or timedelta(seconds=settings.JOB_STALE_AFTER_S)
    reaped = []
    for job in Job.objects.stale(older_than=stale_after):
        silent = f"the worker {job.worker or '?'} stopped responding"
        with transaction.atomic():
            if job.cancel_requested:
                fields = dict(
                    status=JobStatus.CANCELLED,
                    finished_at=timezone.now(),
                    error=f"Cancelled ({silent} before it could stop).",
                )
            elif job.attempts < settings.JOB_MAX_ATTEMPTS:
                fields = dict(
                    status=JobStatus.QUEUED,
                    queued_at=timezone.now(),
                    worker="",
                    error=f"Requeued: {silent} (attempt {job.attempts}).",
                )
            else:
                fields = dict(
                    status=JobStatus.FAILED,
                    finished_at=timezone.now(),
                    error=f"Failed: {silent} on each of {job.attempts} attempts.",
                    failure={  # for staff, as a crash's details: no traceback to keep
                        "type": "WorkerLost",
                        "message": f"No heartbeat from {job.worker or '?'} since "
                        f"{job.heartbeat_at.isoformat() if job.heartbeat_at else '?'}; "
                        f"the reaper gave up after {job.attempts} attempts.",
                        "traceback": "",
                        "params": job.params,
                        "device": "",
                        "worker": job.worker,
                        "attempt": job.attempts,
                        "at": timezone.now().isoformat(),
                    },
                )
            # CAS on the heartbeat we saw: a worker that beat meanwhile keeps its job.
            if not Job.objects.filter(
                pk=job.pk, status=JobStatus.RUNNING, heartbeat_at=job.heartbeat_at
            ).update(version=F("version") + 1, **fields):
                continue
            job.refresh_from_db()
            if job.status == JobStatus.QUEUED:
                _send(job)
        log.warning("reaped job %s: %s", job.id, job.error)
        events.publish_snapshot(job)
        reaped.append(job)
    return reaped


def jobs_end_long_pauses(*, older_than: timedelta | None = None) -> list[Job]:
    """Cancel runs paused for longer than JOB_MAX_PAUSE_S; their checkpoints stay."""
    if older_than is None:
        older_than = timedelta(seconds=settings.JOB_MAX_PAUSE_S)
    ended = []
    cutoff = timezone.now() - older_than
    for job in Job.objects.filter(status=JobStatus.PAUSED, heartbeat_at__lt=cutoff):
        if Job.objects.filter(pk=job.pk, status=JobStatus.PAUSED, heartbeat_at__lt=cutoff).update(
            status=JobStatus.CANCELLED,
            finished_at=timezone.now(),
            error=f"Paused for longer than {duration_words(older_than.total_seconds())}, "
            "so the run was ended; "
            "its checkpoint is kept for download.",
            version=F("version") + 1,
        ):
            job.refresh_from_db()
            events.publish_snapshot(job)
            ended.append(job)
    return ended


def jobs_resend_lost(*, older_than: timedelta | None = None) -> int:
    """Send a fresh token for queued jobs whose message is gone (say Redis restarted
    empty): their queue holds no message yet they have waited `older_than`. Tokens are
    interchangeable and claims are compare-and-set, so a spare token costs nothing."""
    from webapp.broker import queue_depth

    older_than = older_than or timedelta(seconds=settings.JOB_STALE_AFTER_S)
    sent = 0
    waiting = Job.objects.filter(status=JobStatus.QUEUED, queued_at__lt=timezone.now() - older_than)
    for queue in waiting.values_list("queue", flat=True).distinct():
        if queue_depth(queue) != 0:
            continue  # tokens are still waiting, or the broker is unreachable
        for job in waiting.filter(queue=queue)[:500]:
            log.warning("job %s waited with no message in queue %s; sending one", job.id, queue)
            _send(job)
            sent += 1
    return sent
