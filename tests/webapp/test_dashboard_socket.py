"""The dashboard socket's history: another window or kind on request, answered at once;
anything else is refused with a message, and the socket stays open."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.conf import settings
from websockets.asyncio.client import connect

from tests.conftest import session_cookie

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_the_page_picks_the_history_window_and_kind(stack, make_user):
    url = stack.base_url.replace("http", "ws") + "/ws/dashboard/"
    cookie = session_cookie(make_user("op", staff=True))

    async def scenario():
        headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"}
        async with connect(url, origin=stack.base_url, additional_headers=headers) as ws:

            async def next_of(kind: str) -> dict:
                async with asyncio.timeout(30):
                    while True:
                        msg = json.loads(await ws.recv())
                        if msg["type"] == kind:
                            return msg

            first = await next_of("history")
            await ws.send(json.dumps({"type": "history", "window": "week"}))
            refused = await next_of("error")
            await ws.send(json.dumps({"type": "history", "window": "day", "kind": "countdown"}))
            day = await next_of("history")
            stats = await next_of("dashboard")  # still pushing
            return first["history"], refused, day["history"], stats

    first, refused, day, stats = asyncio.run(scenario())
    assert (first["window"], first["kind"], len(first["times"])) == ("hour", "", 60)
    assert refused["error"] == "No such window or kind."
    assert (day["window"], day["kind"], day["step_s"], len(day["times"])) == (
        "day",
        "countdown",
        900,
        96,
    )
    assert "by_state" in stats["stats"]
