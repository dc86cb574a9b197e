"""The one progress publisher: job snapshots and events pushed over the channel layer.

Every event is a JSON object with a `type` (see docs/websocket-protocol.md) and the
job's `version` at the time; the database row was updated before the event was sent,
so a client that missed events re-reads the truth from a snapshot.

Each event goes to the job's group (its pages); the owner's group (their job list) gets
the job's row with each snapshot and the new progress with each other event.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse

from webapp.models import Job

log = logging.getLogger(__name__)


def job_group(job_id) -> str:
    return f"job.{getattr(job_id, 'hex', job_id)}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def job_snapshot(job: Job, *, staff: bool = False) -> dict[str, Any]:
    """Everything a job page needs to draw the job as it is now. Only with `staff` does
    it carry the failure's details (traceback, parameters, device): the snapshots
    published to a job's group reach its owner too, so they never do."""
    snapshot = {
        "id": str(job.id),
        "kind": job.kind,
        "title": job.title,
        "status": job.status,
        "progress": job.progress,
        "metrics": job.metrics,
        "result": job.result,
        "error": job.error,
        "params": job.params,
        "cancel_requested": job.cancel_requested,
        "control": job.control,
        "attempts": job.attempts,
        "worker": job.worker,
        "version": job.version,
        "created_at": job.created_at.isoformat(),
        "queued_at": job.queued_at.isoformat() if job.queued_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "url": reverse("job_detail", args=[job.id]),
    }
    if staff:
        snapshot["failure"] = job.failure or None
    return snapshot


def job_row(job: Job) -> dict[str, Any]:
    """What a row of the job list shows: small enough to send with every change."""
    return {
        "id": str(job.id),
        "status": job.status,
        "progress": job.progress,
        "cancel_requested": job.cancel_requested,
        "version": job.version,
        "wait_seconds": job.wait_seconds,
        "run_seconds": job.run_seconds,
    }


def group_message(event: dict[str, Any]) -> dict[str, str]:
    """The channel-layer message for `event`: serialised once here, not once per socket."""
    return {"type": "job.event", "text": json.dumps(event)}


def _send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    try:
        async_to_sync(layer.group_send)(group, group_message(event))
    except Exception:  # Redis down: the row already holds the truth
        log.warning("could not publish %s to %s", event.get("type"), group, exc_info=True)


def publish(job_id, event: dict[str, Any], *, user_id: int | None = None) -> None:
    """Send `event` to every page watching the job, and its progress to the owner's job
    list when `user_id` is given. Losing it is harmless (see module doc)."""
    _send(job_group(job_id), event)
    if user_id is not None and isinstance(event.get("progress"), int | float):
        row = {"id": str(job_id), "version": event["version"], "progress": event["progress"]}
        _send(user_group(user_id), {"type": "progress", **row})


def publish_snapshot(job: Job, event_type: str = "status") -> None:
    """Publish the whole row as an event of `event_type` (status changes, results)."""
    publish(job.id, {"type": event_type, "version": job.version, "job": job_snapshot(job)})
    _send(user_group(job.user_id), {"type": "job", "version": job.version, "job": job_row(job)})
