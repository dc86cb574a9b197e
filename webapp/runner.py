"""What a worker does with one job: claim, run the kind's function, record the outcome.

The kind's function gets a JobContext: its parameters and inputs, a throttled progress
reporter, a way to save result files, and `should_stop()`, which turns a cancel request
into a clean stop at the engine's next step.
"""

from __future__ import annotations

import logging
import resource
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from webapp import events
from webapp.inbox import job_inbox_clear, job_inbox_receive
from webapp.jobkinds import get_kind, kind_can_yield
from webapp.jobs import job_claim, job_finish, job_pause, job_yield_check
from webapp.models import Job, JobStatus
from webapp.storage import StorageUnavailable, storage_read, storage_save
from webapp.workers import worker_job_ended

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobError(Exception):
    """A failure to show the user as it is ("the picture is 1×1 pixels")."""


class JobPaused(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a kind's `run` after it saved a checkpoint: the job leaves the worker
    as paused, keeping `result` (the checkpoint's files), until the user resumes it."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("paused")
        self.result = result


class ModelCache:
    """Models loaded once per worker process and reused by its later jobs.

    Thread-safe; an entry is loaded again when one of its files changed (an operator ran
    `fetch_models`), and only the `size` most recently used entries are kept.
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[tuple, Any]] = OrderedDict()

    def get(self, name: str, files: Sequence[Path], load: Callable[[], T]) -> T:
        stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        with self._lock:
            cached = self._entries.get(name)
            if cached is not None and cached[0] == stamp:
                self._entries.move_to_end(name)
                return cached[1]
            self._entries.pop(name, None)
            while len(self._entries) >= self.size:
                self._entries.popitem(last=False)
            value = load()
            self._entries[name] = (stamp, value)
            return value


MODELS = ModelCache()


def thin(points: list, limit: int) -> list:
    """At most `limit` points of a history, evenly spread, keeping the first and the last."""
    if len(points) <= limit:
        return points
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(i * stride)] for i in range(limit)]


def eta_seconds(*, progress: float, gained: float, elapsed_s: float) -> float | None:
    """Seconds left for a job at `progress` (0..1) that gained `gained` of it in the
    `elapsed_s` seconds since its worker took it (a resumed run starts part-way);
    None until it has moved 1 % in 2 s, and once it is done."""
    if not (gained >= 0.01 and elapsed_s >= 2 and progress < 1):
        return None
    return (1 - progress) * elapsed_s / gained


class JobContext:
    """The job as the kind's `run` function sees it."""

    def __init__(self, job: Job, worker: str) -> None:
        self.job = job
        self.worker = worker
        self._taken = (time.monotonic(), job.progress)  # for the ETA
        self.params: dict[str, Any] = job.params
        self._last_sent: dict[str, float] = {}
        self._pending: dict[str, tuple[dict, dict]] = {}
        self._last_poll = 0.0
        self._cancel = False
        self._control: dict[str, Any] = dict(job.control)
        self.inbox_used = False  # the runner empties a used inbox when the job ends

    @property
    def device(self) -> str:
        """Where this worker runs engines: "cuda" when it has a GPU, else "cpu"."""
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    models = MODELS  # the per-process model cache (see ModelCache)

    # -- inputs and outputs ------------------------------------------------------------
    def read_input(self, name: str) -> bytes:
        """An uploaded input, pulled from the storage into this worker's memory."""
        data = self._stored(self.params["inputs"][name], doing=f"read the input {name}")
        if data is None:
            raise JobError(f"The input {name} is no longer stored; start the job again.")
        return data

    def save_file(self, name: str, data: bytes) -> str:
        """Store a result file under the job (replacing one of that name); return its URL.
        Atomic: a reader sees the old file or the new one, never a part."""
        try:
            storage_save(f"{self.job.storage_prefix}/{name}", data)
        except StorageUnavailable as exc:
            raise JobError(_store_down(f"save {name}", exc)) from exc
        return reverse("job_file", args=[self.job.id, name])

    def read_file(self, name: str) -> bytes | None:
        """A file this job saved earlier (a checkpoint before a pause), or None."""
        return self._stored(f"{self.job.storage_prefix}/{name}", doing=f"read {name}")

    def _stored(self, path: str, *, doing: str) -> bytes | None:
        try:
            return storage_read(path)
        except StorageUnavailable as exc:
            raise JobError(_store_down(doing, exc)) from exc

    # -- live progress -----------------------------------------------------------------
    def report(
        self,
        progress: float | None = None,
        *,
        event: str = "progress",
        data: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        force: bool = False,
    ) -> None:
        """Record and publish live state, at most once per interval per event type.

        `metrics` keys are merged into Job.metrics (what a snapshot shows after a reload);
        `data` goes only into the event. Between intervals the latest call is kept and
        sent by the next one or by `flush()`.
        """
        update = {"progress": progress, "metrics": metrics or {}}
        self._pending[event] = (update, data or {})
        now = time.monotonic()
        if force or now - self._last_sent.get(event, 0.0) >= settings.JOB_PUBLISH_INTERVAL_S:
            self._send(event)

    def flush(self) -> None:
        for event in list(self._pending):
            self._send(event)

    def _send(self, event: str) -> None:
        update, data = self._pending.pop(event)
        self._last_sent[event] = time.monotonic()
        fields: dict[str, Any] = {"version": F("version") + 1, "heartbeat_at": timezone.now()}
        if update["progress"] is not None:
            self.job.progress = max(0.0, min(1.0, float(update["progress"])))
            fields["progress"] = self.job.progress
            # the measured rate, kept with the kind's metrics so that the job page and
            # the dashboard show the same time left
            taken_at, taken_progress = self._taken
            eta = eta_seconds(
                progress=self.job.progress,
                gained=self.job.progress - taken_progress,
                elapsed_s=time.monotonic() - taken_at,
            )
            update["metrics"] = {**update["metrics"], "eta_s": eta and round(eta, 1)}
        if update["metrics"]:
            self.job.metrics = {**self.job.metrics, **update["metrics"]}
            fields["metrics"] = self.job.metrics
        Job.objects.filter(pk=self.job.pk, status=JobStatus.RUNNING).update(**fields)
        version = Job.objects.filter(pk=self.job.pk).values_list("version", flat=True).first()
        events.publish(
            self.job.id,
            {
                "type": event,
                "version": version,
                "progress": self.job.progress,
                "metrics": update["metrics"],
                **data,
            },
            user_id=self.job.user_id,
        )

    # -- cancel and live controls --------------------------------------------------------
    def _poll(self) -> None:
        now = time.monotonic()
        if now - self._last_poll < settings.JOB_CANCEL_POLL_S:
            return
        self._last_poll = now
        row = (
            Job.objects.filter(pk=self.job.pk)
            .values("cancel_requested", "control", "status", "yield_requested_at")
            .first()
        )
        if row is None or row["cancel_requested"] or row["status"] != JobStatus.RUNNING:
            self._cancel = True
        elif row["yield_requested_at"]:  # fair share: a kind that can pause yields by pausing
            self._control = {**row["control"], "paused": True}
        else:
            self._control = row["control"]

    def should_stop(self) -> bool:
        """True once the user asked to cancel (checked against the database, rate-limited)."""
        self._poll()
        return self._cancel

    def controls(self) -> dict[str, Any]:
        """The live commands the user set on the job page (pause, learning rate, ...);
        "paused" also when fair share asks the job to yield its worker."""
        self._poll()
        return dict(self._control)

    def inbox(self, timeout: float = 1.0) -> dict[str, Any] | None:
        """The next message the job's page sent (webapp/inbox.py), waiting up to `timeout`
        seconds; None when none came. The message is untrusted: check what it holds."""
        self.inbox_used = True
        return job_inbox_receive(self.job.id, timeout=timeout)

    @property
    def cancelled(self) -> bool:
        return self._cancel


class _Heartbeat(threading.Thread):
    """Beats for the job while its function runs, so the reaper knows the worker is alive;
    for a kind that can yield, each beat also asks whether fair share wants the worker."""

    def __init__(self, job_id, worker: str, *, can_yield: bool = False) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id, self.worker, self.done = job_id, worker, threading.Event()
        self.can_yield = can_yield

    def run(self) -> None:
        try:
            while not self.done.wait(settings.JOB_HEARTBEAT_S):
                Job.objects.filter(
                    pk=self.job_id, status=JobStatus.RUNNING, worker=self.worker
                ).update(heartbeat_at=timezone.now())
                if self.can_yield:
                    self._share()
        except Exception:
            log.exception("heartbeat for job %s stopped", self.job_id)
        finally:
            connection.close()

    def _share(self) -> None:
        try:
            if job_yield_check(job_id=self.job_id, worker=self.worker):
                log.info("job %s asked to yield its worker to a waiting job", self.job_id)
        except Exception:  # the beat itself must go on
            log.warning("fair-share check for job %s failed", self.job_id, exc_info=True)


def _store_down(doing: str, exc: StorageUnavailable) -> str:
    return (
        f"The file store could not be reached to {doing}, even after "
        f"{settings.STORAGE_RETRIES} tries ({exc}). Nothing half-written was kept; "
        "retry the job once the store is back."
    )


def describe_failure(exc: BaseException) -> str:
    """A message for the user; the traceback goes to the worker's log."""
    text = str(exc).lower()
    if isinstance(exc, MemoryError) or "can't allocate memory" in text:
        return (
            f"The job needed more than the {settings.JOB_MAX_MEMORY_MB:,} MB of memory a job "
            "may use, and was stopped. Try a smaller size, fewer images or a smaller batch."
        )
    if "out of memory" in text:
        return (
            "The GPU ran out of memory for this job. Try a smaller size, fewer images "
            "or a smaller batch."
        )
    if type(exc).__name__ == "SoftTimeLimitExceeded":
        minutes = settings.JOB_MAX_RUNTIME_S // 60
        return f"The job ran longer than the limit of {minutes} minutes and was stopped."
    return f"Internal error ({type(exc).__name__}). The operators have the details."


# A traceback kept with a failed job is cut to its last this-many characters.
FAILURE_TRACEBACK_CHARS = 20_000


def failure_details(exc: BaseException, job: Job, worker: str) -> dict[str, Any]:
    """What staff need to act on a failure, stored with the job (never shown to its owner):
    the exception's type, message and traceback, and the parameters and device it ran with."""
    torch = sys.modules.get("torch")
    device = "cpu"
    if torch is not None and torch.cuda.is_available():
        device = f"cuda:{torch.cuda.current_device()} ({torch.cuda.get_device_name()})"
    text = "".join(traceback.format_exception(exc))
    return {
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
        "message": str(exc)[:2000],
        "traceback": text[-FAILURE_TRACEBACK_CHARS:],
        "params": job.params,
        "device": device,
        "worker": worker,
        "attempt": job.attempts,
        "at": timezone.now().isoformat(),
    }


def gpu_memory_release() -> dict[str, float] | None:
    """Give the CUDA caching allocator's unused blocks back to the driver after a job;
    the MB this process held before and after (None on a worker without a GPU)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    import gc

    before = torch.cuda.memory_reserved() / 2**20
    gc.collect()  # the job's tensors, held by reference cycles in its frames
    torch.cuda.empty_cache()
    after = torch.cuda.memory_reserved() / 2**20
    return {"before_mb": round(before, 1), "after_mb": round(after, 1)}


@contextmanager
def memory_ceiling(megabytes: int) -> Iterator[None]:
    """Let the process's data segment grow by at most `megabytes` while a job runs: an
    allocation past it fails (MemoryError or torch's "can't allocate memory") and the job
    fails cleanly, instead of the machine's OOM killer taking the worker. Not on GPU
    workers: the CUDA driver maps memory in ways this limit would break, and a GPU's own
    memory is bounded by the device (a CUDA out-of-memory error fails the job)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    ceiling = _data_segment_bytes() + megabytes * 2**20
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def _data_segment_bytes() -> int:
    """VmData of this process: what RLIMIT_DATA counts."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def job_execute(job_id: str, worker: str) -> str:
    """Run one job end to end in this process; returns the final status (or 'skipped')."""
    close_old_connections()
    job = job_claim(job_id=job_id, worker=worker)
    if job is None:
        log.info("nothing queued for the token of job %s; this delivery does nothing", job_id)
        return "skipped"
    events.publish_snapshot(job)
    ctx = JobContext(job, worker)
    beat = _Heartbeat(job.id, worker, can_yield=kind_can_yield(job.kind))
    beat.start()
    result, error, status, failure = None, "", JobStatus.SUCCEEDED, None
    checkpoint = None  # the result a paused run left
    try:
        with memory_ceiling(settings.JOB_MAX_MEMORY_MB):
            result = get_kind(job.kind).run_function()(ctx)
        ctx.flush()
        if ctx.cancelled:
            status, error = JobStatus.CANCELLED, "Cancelled while running."
    except JobPaused as paused:
        ctx.flush()
        checkpoint, status = paused.result, JobStatus.PAUSED
    except JobError as exc:
        status, error = JobStatus.FAILED, str(exc)
        failure = failure_details(exc, job, worker)
    except Exception as exc:  # SystemExit and the like propagate: the reaper requeues
        log.exception("job %s failed", job_id)
        status, error = JobStatus.FAILED, describe_failure(exc)
        failure = failure_details(exc, job, worker)
    finally:
        beat.done.set()
        beat.join()
        if ctx.inbox_used:
            job_inbox_clear(job.id)
    # Out of the except blocks, the exception and its frames are gone; with the context
    # gone too, the job's tensors are free for the release to give back.
    del ctx
    try:
        worker_job_ended(job_id=str(job.id), status=status, gpu=gpu_memory_release())
    except Exception:  # bookkeeping: the job's own outcome is recorded regardless
        log.warning("could not record the end of job %s on the worker", job_id, exc_info=True)
    if checkpoint is not None:
        held = job_pause(job_id=job.id, worker=worker, result=checkpoint)
        if held is not None:
            events.publish_snapshot(held)
            return held.status
        return "lost"
    final = job_finish(
        job_id=job.id,
        worker=worker,
        status=status,
        result=result,
        error=error,
        failure=failure,
    )
    if final is not None:
        events.publish_snapshot(final, "result" if status == JobStatus.SUCCEEDED else "status")
        return final.status
    return "lost"
