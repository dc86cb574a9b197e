"""Attempt limits counted in Redis, so that every web process shares one count.

A limit allows `max_attempts` attempts per `window_s` seconds on one key (an account,
an address). The window starts at the first attempt and starts again, in full, at the
last allowed one: a lock-out always lasts `window_s` and then ends by itself. While a
key is at its maximum, attempts are refused without being counted, so hammering a
locked key does not lengthen the lock or use up another key's attempts.

When Redis cannot be reached the limits are not enforced (logged): Redis being down
should not lock everyone out of the site.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.http import HttpRequest

log = logging.getLogger(__name__)

# KEYS: counters; ARGV: max1, window1, max2, window2, ...
# Refuse, counting nothing, while any counter is at its maximum (return the seconds
# left); otherwise count one attempt on each and return 0. Atomic, so concurrent
# attempts from many processes cannot slip past a limit.
_ATTEMPT = """
local wait = 0
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then
      ttl = tonumber(ARGV[2 * i])
      redis.call('EXPIRE', key, ttl)
    end
    wait = math.max(wait, ttl)
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 or n == tonumber(ARGV[2 * i - 1]) then
    redis.call('EXPIRE', key, ARGV[2 * i])
  end
end
return 0
"""
# Take back one attempt that turned out fine, while its window lasts.
_FORGIVE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Limit:
    key: str
    max_attempts: int
    window_s: int


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


def _key(*parts: str) -> str:
    # Hashed: a user-typed name can be any length and any characters.
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return f"studio:throttle:{parts[0]}:{digest}"


def limit_for(scope: str, who: str, *, max_attempts: int, window_s: int) -> Limit:
    """The limit of `scope` (e.g. "login-account") for one account or address."""
    return Limit(_key(scope, who), max_attempts, window_s)


def client_address(request: HttpRequest) -> str:
    """The client's address; IPv6 by its /64, which one subscriber usually holds whole."""
    addr = request.META.get("REMOTE_ADDR") or "unknown"
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def throttle_attempt(limits: list[Limit]) -> int:
    """Count one attempt against each limit; the seconds to wait if any is at its maximum
    (nothing is counted then), or 0 to go ahead."""
    if not limits:
        return 0
    argv = [v for lim in limits for v in (lim.max_attempts, lim.window_s)]
    try:
        return int(_redis().eval(_ATTEMPT, len(limits), *[lim.key for lim in limits], *argv))
    except redis.RedisError as exc:
        log.warning("attempt limits not enforced, Redis unreachable: %s", exc)
        return 0


def throttle_wait(limits: list[Limit]) -> int:
    """Seconds until every limit allows an attempt again (0: allowed now); counts nothing."""
    try:
        pipe = _redis().pipeline(transaction=False)
        for lim in limits:
            pipe.get(lim.key)
            pipe.ttl(lim.key)
        replies = pipe.execute()
    except redis.RedisError:
        return 0
    waits = [
        max(int(ttl), 1)
        for lim, count, ttl in zip(limits, replies[::2], replies[1::2], strict=True)
        if int(count or 0) >= lim.max_attempts
    ]
    return max(waits, default=0)


def throttle_forgive(limit: Limit) -> None:
    """Take back one attempt on `limit` (it turned out to be a legitimate one)."""
    try:
        _redis().eval(_FORGIVE, 1, limit.key)
    except redis.RedisError:
        pass


def throttle_reset(limit: Limit) -> None:
    """Forget every attempt on `limit`."""
    try:
        _redis().delete(limit.key)
    except redis.RedisError:
        pass


def wait_in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
