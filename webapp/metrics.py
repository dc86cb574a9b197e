"""`/metrics` for Prometheus: jobs, queues and workers in the Prometheus text format.

Everything is read from the database (the source of truth) and the broker at each
scrape, by a custom collector (prometheus-client's pattern for "state kept elsewhere"):
no counter lives in a web process, so any number of ASGI processes answer alike and a
restart loses nothing. Counters and histogram counts only grow while job rows are kept
(a retried job's earlier run stays counted in the histograms of a running process).
A sample scrape config is in docs/operations.md.
"""

from __future__ import annotations

import hmac
import threading
from bisect import bisect_left
from collections.abc import Iterator
from datetime import timedelta
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from webapp.models import (
    ACTIVE_STATES,
    FINAL_STATES,
    WORKER_ONLINE_S,
    EpochSeconds,
    Job,
    Worker,
)

# Upper bounds (seconds) of the wait and run time histograms' buckets: a detection takes
# seconds, a style transfer minutes, a training run up to the two-hour limit.
DURATION_BUCKETS = (0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)


def metrics_allowed(request: HttpRequest) -> bool:
    """A staff session, or `Authorization: Bearer <METRICS_TOKEN>` when a token is set."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


# Jobs that finished before the cut-off are counted once per process and kept: a scrape
# then reads only the last minute's jobs (an index range), not the whole table. A job's
# row is final long before a minute has passed since its finished_at.
SETTLE_S = 60
_settled: dict[str, Any] = {"until": None, "rows": {}}
_settled_lock = threading.Lock()


def _duration_counts(jobs) -> dict[str, dict[str, Any]]:
    """Per kind: how many finished jobs waited / ran at most each bucket's bound, and
    the sums. The rows come back as two numbers each and are bucketed here: the same
    expression inside one conditional count per bucket would be computed that often."""
    rows = (
        jobs.filter(started_at__isnull=False)
        .annotate(
            wait=EpochSeconds("started_at") - EpochSeconds("queued_at"),
            run=EpochSeconds("finished_at") - EpochSeconds("started_at"),
        )
        .values_list("kind", "wait", "run")
    )
    out: dict[str, dict[str, Any]] = {}
    size = len(DURATION_BUCKETS) + 1  # the last one: over every bound (+Inf only)
    for kind, wait, run in rows.iterator(chunk_size=5000):
        counts = out.setdefault(
            kind, {"wait": [0] * size, "run": [0] * size, "wait_sum": 0.0, "run_sum": 0.0}
        )
        for name, value in (("wait", wait), ("run", run)):
            counts[name][bisect_left(DURATION_BUCKETS, value)] += 1
            counts[f"{name}_sum"] += value
    return out


def _add(total: dict, more: dict) -> dict:
    out = {kind: {k: list(v) if isinstance(v, list) else v for k, v in cols.items()}
           for kind, cols in total.items()}  # fmt: skip
    for kind, cols in more.items():
        if kind not in out:
            out[kind] = cols
            continue
        for key, value in cols.items():
            if isinstance(value, list):
                out[kind][key] = [a + b for a, b in zip(out[kind][key], value, strict=True)]
            else:
                out[kind][key] += value
    return out


def _duration_histograms() -> Iterator[Metric]:
    """Wait (queued -> started) and run (started -> finished) times of every finished
    job, per kind."""
    cut = timezone.now() - timedelta(seconds=SETTLE_S)
    finished = Job.objects.filter(finished_at__isnull=False).order_by()
    with _settled_lock:
        until = _settled["until"]
        newly = finished.filter(finished_at__lt=cut)
        if until is not None:
            newly = newly.filter(finished_at__gte=until)
        _settled["rows"] = _add(_settled["rows"], _duration_counts(newly))
        _settled["until"] = cut
        rows = _add(_settled["rows"], _duration_counts(finished.filter(finished_at__gte=cut)))
    for name, what in (("wait", "waited in the queue"), ("run", "ran")):
        family = HistogramMetricFamily(
            f"studio_job_{name}_seconds",
            f"Seconds finished jobs {what}, by kind.",
            labels=["kind"],
        )
        for kind, row in sorted(rows.items()):
            cumulative = list(accumulate(row[name]))
            bounds = [floatToGoString(b) for b in DURATION_BUCKETS]
            buckets = list(zip(bounds, cumulative[:-1], strict=True))
            buckets.append(("+Inf", cumulative[-1]))
            family.add_metric([kind], buckets, row[f"{name}_sum"])
        yield family


def _job_families() -> Iterator[Metric]:
    active = GaugeMetricFamily(
        "studio_jobs", "Jobs queued, running or paused now, by kind.", labels=["kind", "state"]
    )
    finished = CounterMetricFamily(
        "studio_jobs_finished",
        "Jobs that ended (succeeded, failed, cancelled), by kind.",
        labels=["kind", "state"],
    )
    counts = Job.objects.values("kind", "status").annotate(n=Count("*")).order_by()
    for row in sorted(counts, key=lambda r: (r["kind"], r["status"])):
        if row["status"] in ACTIVE_STATES:
            active.add_metric([row["kind"], row["status"]], row["n"])
        elif row["status"] in FINAL_STATES:
            finished.add_metric([row["kind"], row["status"]], row["n"])
    yield active
    yield finished
    yield from _duration_histograms()


def _queue_families() -> Iterator[Metric]:
    from webapp.dashboard import queue_overview

    messages = GaugeMetricFamily(
        "studio_queue_messages", "Messages waiting in the broker's queue.", labels=["queue"]
    )
    waiting = GaugeMetricFamily(
        "studio_queue_jobs", "Jobs queued in the database, per queue.", labels=["queue"]
    )
    oldest = GaugeMetricFamily(
        "studio_queue_oldest_job_age_seconds",
        "How long the oldest queued job of the queue has waited (0 when none waits).",
        labels=["queue"],
    )
    workers = GaugeMetricFamily(
        "studio_queue_workers", "Live workers consuming the queue.", labels=["queue"]
    )
    capacity = GaugeMetricFamily(
        "studio_queue_capacity_bytes",
        "The largest job (memory) every live worker of the queue can hold.",
        labels=["queue"],
    )
    for queue, row in queue_overview(timezone.now()).items():
        if row["messages"] is not None:  # the broker could not be reached: no sample
            messages.add_metric([queue], row["messages"])
        waiting.add_metric([queue], row["jobs"])
        oldest.add_metric([queue], row["oldest_s"] or 0.0)
        workers.add_metric([queue], row["workers"])
        if row["capacity_mb"] is not None:
            capacity.add_metric([queue], row["capacity_mb"] * 2**20)
    yield from (messages, waiting, oldest, workers, capacity)


def _worker_families() -> Iterator[Metric]:
    labels = ["worker"]
    up = GaugeMetricFamily(
        "studio_worker_up",
        f"1 while the worker's heartbeat is younger than {WORKER_ONLINE_S} s, else 0 (lost).",
        labels=["worker", "device"],
    )
    beat = GaugeMetricFamily(
        "studio_worker_last_heartbeat_timestamp_seconds",
        "When the worker last beat (Unix time).",
        labels=labels,
    )
    done = CounterMetricFamily(
        "studio_worker_jobs", "Jobs the worker's pool process ran since it started.", labels=labels
    )
    cpu = GaugeMetricFamily(
        "studio_worker_cpu_percent", "CPU use of the worker's pool process.", labels=labels
    )
    rss = GaugeMetricFamily(
        "studio_worker_resident_memory_bytes", "Resident memory of the pool process.", labels=labels
    )
    gpu_used = GaugeMetricFamily(
        "studio_worker_gpu_memory_used_bytes",
        "Memory in use on the worker's GPU (all processes, from the driver).",
        labels=labels,
    )
    gpu_total = GaugeMetricFamily(
        "studio_worker_gpu_memory_total_bytes", "Memory of the worker's GPU.", labels=labels
    )
    gpu_util = GaugeMetricFamily(
        "studio_worker_gpu_utilization_ratio", "Busy fraction of the worker's GPU.", labels=labels
    )
    now = timezone.now()
    for w in Worker.objects.order_by("name"):
        online = (now - w.last_seen).total_seconds() < WORKER_ONLINE_S
        up.add_metric([w.name, w.device], 1 if online else 0)
        beat.add_metric([w.name], w.last_seen.timestamp())
        stats = w.stats or {}
        if "jobs_done" in stats:
            done.add_metric([w.name], stats["jobs_done"])
        if "cpu_percent" in stats:
            cpu.add_metric([w.name], stats["cpu_percent"])
        if "rss_mb" in stats:
            rss.add_metric([w.name], stats["rss_mb"] * 2**20)
        gpu = stats.get("gpu") or {}
        if "used_mb" in gpu:
            gpu_used.add_metric([w.name], gpu["used_mb"] * 2**20)
        if "total_mb" in gpu:
            gpu_total.add_metric([w.name], gpu["total_mb"] * 2**20)
        if gpu.get("util_percent") is not None:
            gpu_util.add_metric([w.name], gpu["util_percent"] / 100)
    yield from (up, beat, done, cpu, rss, gpu_used, gpu_total, gpu_util)


class StudioCollector:
    """The collector behind /metrics: reads everything afresh at each scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from _job_families()
        yield from _queue_families()
        yield from _worker_families()


def metrics_text() -> bytes:
    """One scrape, in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StudioCollector())
    return generate_latest(registry)
