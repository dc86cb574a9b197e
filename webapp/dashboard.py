"""What the staff dashboard shows, computed from the database and the broker.

`dashboard_stats` is the snapshot of now (pushed every DASHBOARD_PUSH_INTERVAL_S);
`dashboard_history` is how the queue moved over the last hour or day, from the Job rows
themselves: every query is a range on an indexed time column (finished_at, queued_at,
started_at), and rows come back as plain numbers (`EpochSeconds`), so the cost grows
with the jobs in the window, not with the table.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Min, Q
from django.urls import reverse
from django.utils import timezone

from webapp.broker import queue_depth
from webapp.jobkinds import KINDS
from webapp.models import WORKER_ONLINE_S, EpochSeconds, Job, JobStatus, Worker

QUEUES = ("gpu", "default")
# window name -> (its length, one bucket), in seconds
HISTORY_WINDOWS = {"hour": (3600, 60), "day": (86400, 900)}
TRACEBACK_TAIL_CHARS = 3000  # of a failure's traceback, in the dashboard's list


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (q in 0..1): the smallest value with at least a
    fraction q of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 2)


def _yielding(job: Job, now: datetime) -> bool:
    """Asked by fair share to yield its worker, and not yet past the time to do so
    (webapp.jobs.job_yield_check: a request unheeded for one wait is passed on)."""
    asked = job.yield_requested_at
    return asked is not None and (now - asked).total_seconds() < settings.JOB_FAIR_SHARE_WAIT_S


def queue_overview(now: datetime) -> dict[str, dict[str, Any]]:
    """Per queue: messages in the broker, jobs queued in the database, the age of the
    oldest of them, flagged `late` past DASHBOARD_OLDEST_QUEUED_WARN_S, how many of them
    yielded their worker to a waiting job (fair share) and will resume on their own; its
    live workers and the largest job all of them can hold."""
    # a started_at older than yielded_at: not taken again since it yielded
    yielded = Q(yielded_at__isnull=False, yielded_at__gte=F("started_at"))
    waiting = {
        row["queue"]: row
        for row in Job.objects.filter(status=JobStatus.QUEUED)
        .values("queue")
        .annotate(n=Count("*"), oldest=Min("queued_at"), yielded=Count("pk", filter=yielded))
        .order_by()
    }
    staff: dict[str, list[int]] = defaultdict(list)  # queue -> capacities of live workers
    for w in Worker.objects.alive():
        for queue in filter(None, w.queues.split(",")):
            staff[queue].append(w.capacity_mb or w.device_memory_mb)
    out = {}
    for queue in sorted(set(QUEUES) | set(waiting) | set(staff)):
        row = waiting.get(queue)
        age = (now - row["oldest"]).total_seconds() if row else None
        out[queue] = {
            "messages": queue_depth(queue),
            "jobs": row["n"] if row else 0,
            "yielded": row["yielded"] if row else 0,
            "oldest_s": round(age, 1) if age is not None else None,
            "late": age is not None and age > settings.DASHBOARD_OLDEST_QUEUED_WARN_S,
            "workers": len(staff[queue]),
            # what every one of them can hold: the largest job this queue takes
            "capacity_mb": min(staff[queue]) if staff[queue] else None,
        }
    return out


def _worker_rows(now: datetime, running: list[dict[str, Any]]) -> list[dict[str, Any]]:
    in_hand = {j["worker"]: j for j in running}
    rows = []
    for w in Worker.objects.order_by("name")[:100]:
        silent = (now - w.last_seen).total_seconds()
        job = in_hand.get(w.name)
        rows.append(
            {
                "name": w.name,
                "device": w.device,
                "memory_mb": w.device_memory_mb,
                "capacity_mb": w.capacity_mb,
                "queues": w.queues,
                "last_seen_s": round(silent, 1),
                "online": silent < WORKER_ONLINE_S,
                "up_s": round((now - w.started_at).total_seconds()),
                "stats": w.stats,
                "job": {"id": job["id"], "label": job["label"], "url": job["url"]} if job else None,
            }
        )
    return rows


def job_label(job: Job) -> str:
    """How the dashboard names a job: its kind, and its title where it has one."""
    kind = KINDS[job.kind].label if job.kind in KINDS else job.kind
    return f"{kind} · {job.title}" if job.title else kind


def dashboard_stats(*, kind: str = "", recent: int = 200) -> dict[str, Any]:
    """The snapshot of now. `kind` keeps only that kind's jobs in the state tiles, the
    running and failure lists and the medians; queues and workers are shared by every
    kind and always shown whole."""
    now = timezone.now()
    jobs = Job.objects.filter(kind=kind) if kind else Job.objects.all()
    by_state = {s: 0 for s in JobStatus.values}
    # COUNT(*), not COUNT(id): counted from the status index alone, without the rows
    for row in jobs.values("status").annotate(n=Count("*")).order_by():
        by_state[row["status"]] = row["n"]
    running = []
    for j in (
        Job.objects.filter(status=JobStatus.RUNNING).select_related("user").order_by("started_at")
    )[:50]:
        elapsed = (now - j.started_at).total_seconds() if j.started_at else 0.0
        running.append(
            {
                "id": str(j.id),
                "kind": j.kind,
                "label": job_label(j),
                "user": j.user.username,
                "progress": j.progress,
                "worker": j.worker,
                "started_at": j.started_at.isoformat() if j.started_at else None,
                "run_s": round(elapsed, 1),
                "eta_s": j.metrics.get("eta_s"),  # measured by the worker (runner.eta_seconds)
                "cancel_requested": j.cancel_requested,
                "yielding": _yielding(j, now),
                "url": reverse("job_detail", args=[j.id]),
            }
        )
    failures = [
        {
            "id": str(j.id),
            "kind": j.kind,
            "label": job_label(j),
            "user": j.user.username,
            "error": j.error[:300],
            "exception": j.failure.get("type", ""),
            "message": j.failure.get("message", "")[:500],
            "traceback": j.failure.get("traceback", "")[-TRACEBACK_TAIL_CHARS:],
            "worker": j.failure.get("worker", j.worker),
            "device": j.failure.get("device", ""),
            "finished_at": j.finished_at.isoformat() if j.finished_at else None,
            "url": reverse("job_detail", args=[j.id]),
        }
        for j in jobs.filter(status=JobStatus.FAILED)
        .select_related("user")
        .order_by("-finished_at")[:10]
    ]
    finished = list(
        jobs.filter(finished_at__isnull=False, started_at__isnull=False)
        .order_by("-finished_at")
        .values("queued_at", "started_at", "finished_at")[:recent]
    )
    waits = [(f["started_at"] - f["queued_at"]).total_seconds() for f in finished]
    runs = [(f["finished_at"] - f["started_at"]).total_seconds() for f in finished]
    last_hour = jobs.filter(
        status=JobStatus.SUCCEEDED, finished_at__gte=now - timedelta(hours=1)
    ).count()
    return {
        "time": now.isoformat(),
        "kind": kind,
        "queues": queue_overview(now),
        "oldest_warn_s": settings.DASHBOARD_OLDEST_QUEUED_WARN_S,
        "by_state": by_state,
        "running": [j for j in running if not kind or j["kind"] == kind],
        "workers": _worker_rows(now, running),
        "failures": failures,
        "throughput_per_hour": last_hour,
        "median_wait_s": _median(waits),
        "median_run_s": _median(runs),
    }


def dashboard_history(
    *, window: str = "hour", kind: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """How the queue moved over the last hour or day, in buckets of a minute (an hour's
    window) or 15 minutes (a day's), the last one still filling: jobs finished per kind,
    median and p95 (nearest rank) of their wait and run times, by the bucket they
    finished in, and the jobs waiting in each queue at each bucket's end. `kind` keeps
    only that kind's jobs."""
    span, step = HISTORY_WINDOWS[window]
    now_s = (now or timezone.now()).timestamp()
    count = span // step
    first = math.floor(now_s / step) * step - (count - 1) * step
    since = datetime.fromtimestamp(first, tz=UTC)
    # order_by(): the model's default order (-created_at) would make the database walk
    # that index through the whole table instead of the time range asked for
    jobs = (Job.objects.filter(kind=kind) if kind else Job.objects.all()).order_by()

    finished: dict[str, list[int]] = defaultdict(lambda: [0] * count)
    waits: list[list[float]] = [[] for _ in range(count)]
    runs: list[list[float]] = [[] for _ in range(count)]
    rows = (
        jobs.filter(finished_at__gte=since, started_at__isnull=False)
        .annotate(q=EpochSeconds("queued_at"), s=EpochSeconds("started_at"))
        .annotate(f=EpochSeconds("finished_at"))
        .values_list("kind", "q", "s", "f")
    )
    for job_kind, queued, started, ended in rows:
        i = min(int((ended - first) // step), count - 1)
        finished[job_kind][i] += 1
        waits[i].append(max(0.0, started - queued))
        runs[i].append(ended - started)

    # A job waits from queued_at until a worker takes it (started_at), or until it is
    # cancelled unstarted (finished_at); a started_at older than queued_at is from an
    # earlier attempt (requeued, resumed), so that job is waiting still.
    arrivals: dict[str, list[float]] = defaultdict(list)
    departures: dict[str, list[float]] = defaultdict(list)
    waited = (
        jobs.filter(
            Q(queued_at__gte=since)
            | Q(status=JobStatus.QUEUED)
            | Q(started_at__gte=since)
            | Q(finished_at__gte=since, started_at__isnull=True)
        )
        .annotate(q=EpochSeconds("queued_at"), s=EpochSeconds("started_at"))
        .annotate(f=EpochSeconds("finished_at"))
        .values_list("queue", "status", "q", "s", "f")
    )
    for queue, status, queued, started, ended in waited:
        arrivals[queue].append(queued)
        if status == JobStatus.QUEUED:
            continue
        if started is not None and started >= queued:
            departures[queue].append(started)
        elif ended is not None:
            departures[queue].append(ended)
    ends = [min(first + (i + 1) * step, now_s) for i in range(count)]
    depth = {}
    for queue in sorted(set(QUEUES) | set(arrivals)):
        came, left = sorted(arrivals[queue]), sorted(departures[queue])
        depth[queue] = [bisect_right(came, t) - bisect_right(left, t) for t in ends]

    return {
        "window": window,
        "kind": kind,
        "step_s": step,
        "start": first,
        "times": [first + i * step for i in range(count)],
        "finished": dict(sorted(finished.items())),
        "wait_p50": [_median(v) for v in waits],
        "wait_p95": [percentile(v, 0.95) for v in waits],
        "run_p50": [_median(v) for v in runs],
        "run_p95": [percentile(v, 0.95) for v in runs],
        "queue_depth": depth,
    }
