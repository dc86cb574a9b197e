"""Limits on websockets: how many one user holds, and how fast sockets may ask for a resync.

Sockets per user are counted in Redis (a sorted set of channel names by opening time
per user), so the cap holds across every web process: when a user opens one more than
WS_MAX_PER_USER, the oldest are told to close (code 4429). A socket whose process died
without saying goodbye is simply the oldest, and is the first to go.

Bursts: each socket answers at most one resync per WS_RESYNC_INTERVAL_S (later ones
within the interval are merged into one answer), and each process lets at most
WS_SNAPSHOT_CONCURRENCY sockets connect or resync at once (each joins a channel-layer
group and reads the database), so that a burst on hundreds of sockets queues instead of
asking the channel layer's Redis pool for hundreds of connections together: that pool
allows 100 and refuses more, which closed 201 of 300 sockets with 1011.
"""

from __future__ import annotations

import asyncio
import time
import weakref

import redis.asyncio as aredis
from django.conf import settings

KEY_TTL_S = 24 * 3600  # a user's set lives on only while they open sockets

# KEYS[1]: the user's set; ARGV: channel, opened-at, cap. Adds the channel and returns
# the channels over the cap, oldest first, never the one just added.
_OPEN = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if extra <= 0 then return {} end
local evicted = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, extra)) do
  if member ~= ARGV[1] and #evicted < extra then
    table.insert(evicted, member)
    redis.call('ZREM', KEYS[1], member)
  end
end
return evicted
"""

# One client and one resync semaphore per event loop (an asyncio object cannot move
# between loops; daphne has one, tests start several).
_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_slots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _redis() -> aredis.Redis:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        # A blocking pool: a burst of sockets waits for one of few connections
        # rather than opening one each.
        pool = aredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=8, timeout=30, socket_timeout=10
        )
        client = _clients[loop] = aredis.Redis(connection_pool=pool)
    return client


def _user_key(user_id: int) -> str:
    prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "studio")
    return f"{prefix}:sockets:user:{user_id}"


async def socket_open(*, user_id: int, channel: str) -> list[str]:
    """Count `channel` as one of the user's sockets; return the channels to close."""
    evicted = await _redis().eval(
        _OPEN, 1, _user_key(user_id), channel, time.time(), settings.WS_MAX_PER_USER, KEY_TTL_S
    )
    return [c.decode() if isinstance(c, bytes) else c for c in evicted]


async def socket_close(*, user_id: int, channel: str) -> None:
    await _redis().zrem(_user_key(user_id), channel)


def snapshot_slot() -> asyncio.Semaphore:
    """This process's limit on sockets connecting or resyncing at once."""
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        slot = _slots[loop] = asyncio.Semaphore(settings.WS_SNAPSHOT_CONCURRENCY)
    return slot
