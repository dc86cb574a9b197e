"""A job's inbox: small messages a page sends to the worker running the job, beside
its controls (which say how the job should run, in the database). A teach page's camera
frames are the first: many a second, each worth only until the next one, so they wait in
a short Redis list per job, never in the database, and are lost when nobody takes them.

The web side calls `job_inbox_send` (after checking the message: the worker still reads
it as untrusted); the worker takes them with `JobContext.inbox`, and the runner empties
the inbox when the job's function ends.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from django.conf import settings

INBOX_TTL_S = 300  # an inbox nobody reads goes away on its own


class InboxError(ValueError):
    """A message that cannot be sent; the text is for the person."""


def _client(timeout: float) -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout)


def inbox_key(job_id) -> str:
    return f"job:{job_id}:inbox"


def job_inbox_send(*, job_id, message: dict[str, Any], keep: int) -> None:
    """Put `message` (JSON-serialisable, at most settings.JOB_INBOX_MAX_BYTES) in the job's
    inbox; only the newest `keep` wait, older ones are dropped. InboxError when too big
    or when Redis cannot be reached."""
    item = json.dumps(message)
    if len(item) > settings.JOB_INBOX_MAX_BYTES:
        raise InboxError(
            f"The message is {len(item):,} bytes; a job takes at most "
            f"{settings.JOB_INBOX_MAX_BYTES:,} at a time."
        )
    key = inbox_key(job_id)
    try:
        with _client(2).pipeline() as pipe:
            pipe.rpush(key, item).ltrim(key, -max(1, keep), -1).expire(key, INBOX_TTL_S)
            pipe.execute()
    except redis.RedisError as exc:
        raise InboxError("The worker could not be reached; try again in a moment.") from exc


def job_inbox_receive(job_id, *, timeout: float) -> dict[str, Any] | None:
    """The oldest waiting message, waiting up to `timeout` seconds (at least 1) for one;
    None when none came or Redis is away (the caller's loop goes on)."""
    wait = max(1, round(timeout))
    try:
        item = _client(wait + 5).blpop([inbox_key(job_id)], timeout=wait)
    except redis.RedisError:
        return None
    if item is None:
        return None
    try:
        message = json.loads(item[1])
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def job_inbox_clear(job_id) -> None:
    """Drop what still waits (the job ended: nobody will read it)."""
    try:
        _client(2).delete(inbox_key(job_id))
    except redis.RedisError:
        pass  # it expires on its own
