"""Websocket consumers: one per job page, one for the staff dashboard.

A job socket first sends a snapshot read from the database, then relays live events.
Channels delivers at most once, so the page compares `version`s and asks for a fresh
snapshot (`{"type": "resync"}`) whenever it suspects it missed something.
"""

from __future__ import annotations

import asyncio
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from webapp import events
from webapp.models import Job

# Close codes the pages understand (4000-4999 are free for applications).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _load_job(job_id: uuid.UUID, user) -> Job | None:
    return Job.objects.visible_to(user).filter(pk=job_id).first()


@database_sync_to_async
def _snapshot(job_id: uuid.UUID) -> dict | None:
    job = Job.objects.filter(pk=job_id).first()
    return events.job_snapshot(job) if job else None


class RefusingConsumer(AsyncJsonWebsocketConsumer):
    async def refuse(self, code: int) -> None:
        """Accept, then close with `code`: a close before accepting reaches the browser
        as a bare failed handshake, and the page could not say why."""
        await self.accept()
        await self.close(code=code)


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
        snap = await _snapshot(self.job_id)
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


class DashboardConsumer(RefusingConsumer):
    """`/ws/dashboard/`: staff only; pushes the queue statistics every few seconds."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        if not user.is_staff:
            await self.refuse(CLOSE_FORBIDDEN)
            return
        await self.accept()
        self._task = asyncio.create_task(self._push_forever())

    async def _push_forever(self) -> None:
        from webapp.dashboard import dashboard_stats

        while True:
            stats = await database_sync_to_async(dashboard_stats)()
            await self.send_json({"type": "dashboard", "stats": stats})
            await asyncio.sleep(settings.DASHBOARD_PUSH_INTERVAL_S)

    async def disconnect(self, code: int) -> None:
        task = getattr(self, "_task", None)
        if task:
            task.cancel()
