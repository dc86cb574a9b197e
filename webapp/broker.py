"""What the Celery broker (Redis) holds: messages waiting per queue."""

from __future__ import annotations

import redis
from django.conf import settings


def queue_depth(queue: str) -> int | None:
    """Messages waiting in a Celery queue; None when Redis cannot be reached."""
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1)
        return int(client.llen(queue))
    except redis.RedisError:
        return None
