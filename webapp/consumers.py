"""Websocket consumers: one per job page, one per job list, one for the staff dashboard.

A job socket first sends a snapshot read from the database, then relays live events.
Channels delivers at most once, so the page compares `version`s and asks for a fresh
snapshot (`{"type": "resync"}`) whenever it suspects it missed something.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from webapp import events
from webapp.jsoninput import JSONInputError, json_parse
from webapp.models import Job
from webapp.socketlimits import snapshot_slot, socket_close, socket_open

log = logging.getLogger(__name__)

# Close codes the pages understand (4000-4999 are free for applications).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404  # no socket at this path
CLOSE_TOO_MANY = 4429  # the user opened more than WS_MAX_PER_USER: this, the oldest, goes
MY_JOBS_RESYNC_IDS = 100  # rows one resync may ask for (a job list page shows fewer)


@database_sync_to_async
def _load_job(job_id: uuid.UUID, user) -> Job | None:
    return Job.objects.visible_to(user).filter(pk=job_id).first()


@database_sync_to_async
def _snapshot(job_id: uuid.UUID, *, staff: bool) -> dict | None:
    job = Job.objects.filter(pk=job_id).first()
    return events.job_snapshot(job, staff=staff) if job else None


@database_sync_to_async
def _job_rows(user, ids: list[uuid.UUID]) -> list[dict]:
    return [events.job_row(job) for job in Job.objects.filter(user=user, pk__in=ids)]


def _uuids(values: object, limit: int) -> list[uuid.UUID]:
    """The valid UUIDs among the first `limit` of `values` (anything else is ignored)."""
    out = []
    for value in values[:limit] if isinstance(values, list) else []:
        try:
            out.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return out


class RefusingConsumer(AsyncJsonWebsocketConsumer):
    """The base of every socket: refusals with a reason, the per-user cap, resyncs at a
    bounded rate, and an `error` message (never a crash) for a frame it cannot read."""

    _resync_task: asyncio.Task | None = None
    _resync_wanted: dict | None = None
    _resync_last = float("-inf")
    _counted_for: int | None = None

    async def refuse(self, code: int) -> None:
        """Accept, then close with `code`: a close before accepting reaches the browser
        as a bare failed handshake, and the page could not say why."""
        await super().accept()  # not counted against the user's sockets
        await self.close(code=code)

    async def accept(self, subprotocol=None, headers=None) -> None:
        """Accept, and count the socket as its user's; close their oldest over the cap."""
        await super().accept(subprotocol, headers)
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return
        self._counted_for = user.pk
        for channel in await socket_open(user_id=user.pk, channel=self.channel_name):
            await self.channel_layer.send(channel, {"type": "socket.evict"})

    async def websocket_connect(self, message: dict) -> None:
        async with snapshot_slot():  # see socketlimits: a burst of connects queues here
            await super().websocket_connect(message)

    async def socket_evict(self, message: dict) -> None:
        await self.close(code=CLOSE_TOO_MANY)

    async def websocket_disconnect(self, message: dict) -> None:
        if self._resync_task:
            self._resync_task.cancel()
        if self._counted_for is not None:
            await socket_close(user_id=self._counted_for, channel=self.channel_name)
        await super().websocket_disconnect(message)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        try:
            content = json_parse(text_data if text_data is not None else bytes_data or b"")
        except JSONInputError as exc:
            await self.send_json({"type": "error", "error": str(exc)})
            return
        if isinstance(content, dict) and content.get("type") == "resync":
            # Merged: the latest request wins, answered once the interval allows.
            self._resync_wanted = content
            if self._resync_task is None or self._resync_task.done():
                self._resync_task = asyncio.create_task(self._resync_soon())
            return
        await self.receive_json(content)

    async def _resync_soon(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._resync_wanted is not None:
                wait = self._resync_last + settings.WS_RESYNC_INTERVAL_S - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                async with snapshot_slot():
                    content, self._resync_wanted = self._resync_wanted, None
                    self._resync_last = loop.time()
                    await self.receive_json(content)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("resync failed; closing the socket so that the page reconnects")
            await self.close(code=1011)


class NoSuchSocket(RefusingConsumer):
    """Any other path under the websocket router (a job id that is not a UUID...)."""

    async def connect(self) -> None:
        await self.refuse(CLOSE_NOT_FOUND)


class JobConsumer(RefusingConsumer):
    """`/ws/jobs/<id>/`: the owner's (or staff's) live view of one job."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.job_id = self.scope["url_route"]["kwargs"]["job_id"]
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        if await _load_job(self.job_id, user) is None:
            await self.refuse(CLOSE_FORBIDDEN)  # someone else's job, or none at all
            return
        self.group = events.job_group(self.job_id)
        # Join before reading the snapshot: an event that lands in between is then
        # delivered after it, and the page drops it if its version is older.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._send_snapshot()

    async def _send_snapshot(self) -> None:
        snap = await _snapshot(self.job_id, staff=self.scope["user"].is_staff)
        if snap is not None:
            await self.send_json({"type": "snapshot", "version": snap["version"], "job": snap})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "resync":
            # Join again: a Redis restart forgets group membership.
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self._send_snapshot()

    async def job_event(self, message: dict) -> None:
        await self.send(text_data=message["text"])


class MyJobsConsumer(RefusingConsumer):
    """`/ws/my-jobs/`: the rows of the owner's job list, as their jobs change."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        self.group = events.user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        """`{"type": "resync", "ids": [...]}`: a `job` message for each of those jobs."""
        if not isinstance(content, dict) or content.get("type") != "resync":
            return
        await self.channel_layer.group_add(self.group, self.channel_name)  # as JobConsumer
        ids = _uuids(content.get("ids"), MY_JOBS_RESYNC_IDS)
        for row in await _job_rows(self.scope["user"], ids):
            await self.send_json({"type": "job", "version": row["version"], "job": row})

    async def job_event(self, message: dict) -> None:
        await self.send(text_data=message["text"])


class DashboardConsumer(RefusingConsumer):
    """`/ws/dashboard/`: staff only; pushes the queue statistics every few seconds and the
    history charts every DASHBOARD_HISTORY_INTERVAL_S, or both at once when the page asks
    for another window or kind with `{"type": "history", "window": "day", "kind": "detect"}`
    (the kind filters the statistics too)."""

    history_options = {"window": "hour", "kind": ""}

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        if not user.is_staff:
            await self.refuse(CLOSE_FORBIDDEN)
            return
        await self.accept()
        self._history_wanted = asyncio.Event()
        self._stats_wanted = asyncio.Event()
        self._task = asyncio.create_task(self._push_forever())
        self._history_task = asyncio.create_task(self._push_history_forever())

    async def _push_forever(self) -> None:
        from webapp.dashboard import dashboard_stats

        async def stats() -> dict:
            kind = self.history_options["kind"]
            return {
                "type": "dashboard",
                "stats": await database_sync_to_async(dashboard_stats)(kind=kind),
            }

        await self._push_every(stats, self._stats_wanted, settings.DASHBOARD_PUSH_INTERVAL_S)

    async def _push_history_forever(self) -> None:
        from webapp.dashboard import dashboard_history

        async def history() -> dict:
            found = await database_sync_to_async(dashboard_history)(**self.history_options)
            return {"type": "history", "history": found}

        await self._push_every(history, self._history_wanted, settings.DASHBOARD_HISTORY_INTERVAL_S)

    async def _push_every(self, message, wanted: asyncio.Event, interval_s: float) -> None:
        """Send `await message()` now, then every `interval_s` or as soon as `wanted` is set."""
        while True:
            await self.send_json(await message())
            wanted.clear()
            try:
                await asyncio.wait_for(wanted.wait(), interval_s)
            except TimeoutError:
                pass

    async def receive_json(self, content, **kwargs) -> None:
        from webapp.dashboard import HISTORY_WINDOWS
        from webapp.jobkinds import KINDS

        if not isinstance(content, dict) or content.get("type") != "history":
            return
        window, kind = content.get("window"), content.get("kind") or ""
        if window not in HISTORY_WINDOWS or (kind and kind not in KINDS):
            await self.send_json({"type": "error", "error": "No such window or kind."})
            return
        self.history_options = {"window": window, "kind": kind}
        self._history_wanted.set()
        self._stats_wanted.set()

    async def disconnect(self, code: int) -> None:
        for name in ("_task", "_history_task"):
            task = getattr(self, name, None)
            if task:
                task.cancel()
