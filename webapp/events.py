"""The one progress publisher: job snapshots and events pushed over the channel layer.

Every event is a JSON object with a `type` (see docs/websocket-protocol.md) and the
job's `version` at the time; the database row was updated before the event was sent,
so a client that missed events re-reads the truth from a snapshot.
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


def job_snapshot(job: Job) -> dict[str, Any]:
    """Everything a job page needs to draw the job as it is now."""
    return {
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
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "url": reverse("job_detail", args=[job.id]),
    }


def group_message(event: dict[str, Any]) -> dict[str, str]:
    """The channel-layer message for `event`: serialised once here, not once per socket."""
    return {"type": "job.event", "text": json.dumps(event)}


def publish(job_id, event: dict[str, Any]) -> None:
    """Send `event` to every page watching the job. Losing it is harmless (see module doc)."""
    layer = get_channel_layer()
    try:
        async_to_sync(layer.group_send)(job_group(job_id), group_message(event))
    except Exception:  # Redis down: the row already holds the truth
        log.warning("could not publish %s for job %s", event.get("type"), job_id, exc_info=True)


def publish_snapshot(job: Job, event_type: str = "status") -> None:
    """Publish the whole row as an event of `event_type` (status changes, results)."""
    publish(job.id, {"type": event_type, "version": job.version, "job": job_snapshot(job)})
