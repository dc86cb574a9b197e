"""The Job row is the source of truth for every job; Worker rows say who is alive."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"  # checkpointed, holding no worker; resuming queues it again
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Counted against a user's limit. A paused job holds no worker, but it holds its place.
ACTIVE_STATES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PAUSED)
FINAL_STATES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class EpochSeconds(models.Func):
    """A datetime column as seconds since 1970 (a float) in SQL, on SQLite and PostgreSQL:
    durations and time buckets are then computed by the database, and rows come back as
    plain numbers instead of datetimes to parse."""

    output_field = models.FloatField()
    arity = 1

    def as_sqlite(self, compiler, connection, **extra):
        # julianday() of the epoch is 2440587.5; a day has 86400 seconds. A double holds
        # today's julian day to ~40 µs: rounding to the millisecond gives exact seconds.
        template = "ROUND((julianday(%(expressions)s) - 2440587.5) * 86400.0, 3)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
        return self.as_sql(compiler, connection, template=template, **extra)


class JobQuerySet(models.QuerySet):
    def active(self) -> JobQuerySet:
        return self.filter(status__in=ACTIVE_STATES)

    def visible_to(self, user) -> JobQuerySet:
        """Staff see every job; everyone else only their own."""
        if user.is_staff:
            return self
        return self.filter(user=user) if user.is_authenticated else self.none()

    def stale(self, *, older_than: timedelta) -> JobQuerySet:
        """Running jobs whose worker has not sent a heartbeat for `older_than`."""
        return self.filter(status=JobStatus.RUNNING, heartbeat_at__lt=timezone.now() - older_than)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    kind = models.CharField(max_length=32, db_index=True)
    title = models.CharField(max_length=200, blank=True)
    queue = models.CharField(max_length=32, default="gpu")
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    params = models.JSONField(default=dict, blank=True)  # validated form input, files by name
    progress = models.FloatField(default=0.0)  # 0..1
    metrics = models.JSONField(default=dict, blank=True)  # latest kind-specific live state
    result = models.JSONField(default=dict, blank=True)  # kind-specific, files by name
    error = models.TextField(blank=True)  # human-readable, shown to the user
    # Staff only, never sent to the owner: what went wrong inside the worker
    # (exception type, message, traceback, the parameters and device it ran with).
    failure = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    control = models.JSONField(default=dict, blank=True)  # live commands (pause, lr, ...)
    # Preemptive fair share (webapp.jobs.job_yield_check): when this run was asked to
    # yield its worker to a waiting job, and when it last did (it then counts as served).
    yield_requested_at = models.DateTimeField(null=True, blank=True)
    yielded_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)  # bumped on every published change
    attempts = models.PositiveSmallIntegerField(default=0)  # claims by a worker
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "status"]),
            models.Index(fields=["status", "queued_at"]),
            # the dashboard: successes in the last hour, latest failures
            models.Index(fields=["status", "finished_at"]),
            # the dashboard's history: who arrived in / left the queue within a window
            models.Index(fields=["queued_at"]),
            models.Index(fields=["started_at"]),
            # /metrics: jobs by state and kind, counted from this index alone
            models.Index(fields=["status", "kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("job_detail", args=[self.id])

    @property
    def storage_prefix(self) -> str:
        return f"jobs/{self.id}"

    @property
    def wait_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.started_at - self.queued_at).total_seconds()

    @property
    def run_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


class WorkerQuerySet(models.QuerySet):
    def alive(self) -> WorkerQuerySet:
        """Workers whose heartbeat is recent (a dead one's row lingers until cleaned up)."""
        return self.filter(last_seen__gte=timezone.now() - timedelta(seconds=WORKER_ONLINE_S))


# A worker beats every JOB_HEARTBEAT_S; this much silence means it is gone.
WORKER_ONLINE_S = 30


class Worker(models.Model):
    """A worker process that runs jobs; it refreshes `last_seen` while it is alive."""

    name = models.CharField(max_length=200, primary_key=True)
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField(default=0)
    device = models.CharField(max_length=200)  # "NVIDIA H100 80GB HBM3" or "CPU (8 threads)"
    device_memory_mb = models.PositiveIntegerField(default=0)
    queues = models.CharField(max_length=200, blank=True)
    # The largest job, in MB of memory, this worker can hold (its GPU's memory, else the
    # job memory limit within the host's RAM; STUDIO_WORKER_CAPACITY_MB overrides):
    # job_create routes a job to a queue whose live workers can all hold it.
    capacity_mb = models.PositiveIntegerField(default=0)
    # Refreshed with each heartbeat (see webapp.workers.worker_stats): CPU and RSS of the
    # pool process, GPU memory and utilisation, jobs done since start, the last release
    # of GPU memory after a job ended.
    stats = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    objects = WorkerQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name
