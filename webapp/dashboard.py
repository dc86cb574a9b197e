"""What the staff dashboard shows, computed from the database and the broker."""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from webapp.broker import queue_depth
from webapp.jobkinds import KINDS
from webapp.models import WORKER_ONLINE_S, Job, JobStatus, Worker

QUEUES = ("gpu", "default")


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def dashboard_stats(*, recent: int = 200) -> dict[str, Any]:
    now = timezone.now()
    by_state = {s: 0 for s in JobStatus.values}
    for row in Job.objects.values("status").annotate(n=Count("id")):
        by_state[row["status"]] = row["n"]
    running = [
        {
            "id": str(j.id),
            "kind": j.kind,
            "label": KINDS[j.kind].label if j.kind in KINDS else j.kind,
            "user": j.user.username,
            "progress": j.progress,
            "worker": j.worker,
            "started_at": j.started_at.isoformat() if j.started_at else None,
            "url": reverse("job_detail", args=[j.id]),
        }
        for j in Job.objects.filter(status=JobStatus.RUNNING)
        .select_related("user")
        .order_by("started_at")[:50]
    ]
    workers = [
        {
            "name": w.name,
            "device": w.device,
            "memory_mb": w.device_memory_mb,
            "queues": w.queues,
            "last_seen_s": round((now - w.last_seen).total_seconds(), 1),
            "online": (now - w.last_seen).total_seconds() < WORKER_ONLINE_S,
        }
        for w in Worker.objects.order_by("name")[:100]
    ]
    failures = [
        {
            "id": str(j.id),
            "kind": j.kind,
            "user": j.user.username,
            "error": j.error[:300],
            "finished_at": j.finished_at.isoformat() if j.finished_at else None,
            "url": reverse("job_detail", args=[j.id]),
        }
        for j in Job.objects.filter(status=JobStatus.FAILED)
        .select_related("user")
        .order_by("-finished_at")[:10]
    ]
    finished = list(
        Job.objects.filter(finished_at__isnull=False, started_at__isnull=False)
        .order_by("-finished_at")
        .values("queued_at", "started_at", "finished_at")[:recent]
    )
    waits = [(f["started_at"] - f["queued_at"]).total_seconds() for f in finished]
    runs = [(f["finished_at"] - f["started_at"]).total_seconds() for f in finished]
    last_hour = Job.objects.filter(
        status=JobStatus.SUCCEEDED, finished_at__gte=now - timedelta(hours=1)
    ).count()
    return {
        "time": now.isoformat(),
        "queues": {q: queue_depth(q) for q in QUEUES},
        "by_state": by_state,
        "running": running,
        "workers": workers,
        "failures": failures,
        "throughput_per_hour": last_hour,
        "median_wait_s": _median(waits),
        "median_run_s": _median(runs),
    }
