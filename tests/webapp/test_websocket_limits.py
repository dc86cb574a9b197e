"""Websocket limits through real daphne processes and the run's real Redis: the per-user
cap across processes, resync bursts, and frames or paths that are not what a page sends."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import session_cookie
from webapp.models import Job

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def _ws(base_url: str, path: str) -> str:
    return base_url.replace("http", "ws") + path


async def _open(url: str, origin: str, cookie: str):
    ws = await connect(
        url,
        origin=origin,
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"},
        open_timeout=30,
        max_queue=None,
    )
    first = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert first["type"] == "snapshot"
    return ws


async def _close_code(ws, timeout: float) -> int | None:
    """The close code `ws` receives within `timeout` (None: still open)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except TimeoutError:
        return None
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


@pytest.fixture(scope="module")
def second_web(stack):
    """A second web process on the same Redis: the cap must hold across processes."""
    proc, url = stack.web()
    yield url
    proc.stop()


def test_one_socket_over_the_cap_closes_the_oldest_across_processes(stack, second_web, make_user):
    user = make_user("many-tabs")
    job = Job.objects.create(user=user, kind="countdown")
    cookie, cap = session_cookie(user), settings.WS_MAX_PER_USER
    path = f"/ws/jobs/{job.id}/"

    async def scenario():
        first = [await _open(_ws(stack.base_url, path), stack.base_url, cookie) for _ in range(cap)]
        newest = await _open(_ws(second_web, path), second_web, cookie)
        codes = await asyncio.gather(
            *[_close_code(ws, 5 if i == 0 else 1) for i, ws in enumerate(first)]
        )
        newest_open = await _close_code(newest, 1) is None
        for ws in [*first, newest]:
            await ws.close()
        return codes, newest_open

    codes, newest_open = asyncio.run(scenario())
    assert codes[0] == 4429, codes  # the oldest, on the other process
    assert codes[1:] == [None] * (cap - 1) and newest_open


def test_a_resync_burst_on_many_sockets_is_answered_and_closes_none(stack, make_user):
    users = [make_user(f"burst{i}") for i in range(15)]
    jobs = [Job.objects.create(user=u, kind="countdown") for u in users]
    cookies = [session_cookie(u) for u in users]
    per_user = settings.WS_MAX_PER_USER  # 15 x 20 = 300 sockets, as in the report

    async def scenario():
        sockets = await asyncio.gather(  # all 300 connect at once: a burst too
            *[
                _open(_ws(stack.base_url, f"/ws/jobs/{job.id}/"), stack.base_url, cookie)
                for cookie, job in zip(cookies, jobs, strict=True)
                for _ in range(per_user)
            ]
        )
        resync = json.dumps({"type": "resync"})
        await asyncio.gather(*[ws.send(resync) for ws in sockets for _ in range(5)])

        async def answered(ws) -> str:
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
            except ConnectionClosed as exc:
                return f"closed {exc.rcvd.code if exc.rcvd else None}"
            return msg["type"]

        answers = await asyncio.gather(*[answered(ws) for ws in sockets])
        # Five resyncs within the interval are one answer: nothing more comes.
        extra = await asyncio.gather(*[_close_code(ws, 0.2) for ws in sockets[:20]])
        still_open = [ws.state.name for ws in sockets]
        for ws in sockets:
            await ws.close()
        return answers, extra, still_open

    answers, extra, still_open = asyncio.run(scenario())
    assert answers == ["snapshot"] * len(answers), sorted(set(answers))
    assert extra == [None] * 20
    assert set(still_open) == {"OPEN"}


@pytest.mark.parametrize("path", ["/ws/jobs/not-a-uuid/", "/ws/nothing/", "/ws/"])
def test_an_unknown_socket_path_is_closed_4404(stack, path):
    async def scenario():
        async with connect(_ws(stack.base_url, path), origin=stack.base_url) as ws:
            return await _close_code(ws, 10)

    assert asyncio.run(scenario()) == 4404
    assert "Traceback" not in stack.web_proc.log()


def test_frames_a_page_never_sends_get_an_error_and_the_socket_stays(stack, make_user):
    user = make_user("garbler")
    job = Job.objects.create(user=user, kind="countdown")
    frames = [
        '{"type": "resync"',  # truncated
        "not json",
        "",
        '{"type": "resync", "x": NaN}',
        "[" * 5000,
        b"\x00\xff binary",
        '{"type": 5}',
        "[]",
    ]

    cookie = session_cookie(user)

    async def scenario():
        url = _ws(stack.base_url, f"/ws/jobs/{job.id}/")
        ws = await _open(url, stack.base_url, cookie)
        replies = []
        for frame in frames:
            await ws.send(frame)
        await ws.send(json.dumps({"type": "resync"}))
        async with asyncio.timeout(20):
            while not replies or replies[-1]["type"] != "snapshot":
                replies.append(json.loads(await ws.recv()))
        await ws.close()
        return replies

    replies = asyncio.run(scenario())
    errors = [r for r in replies if r["type"] == "error"]
    assert len(errors) == 6 and all(r["error"] for r in errors)
    assert any("NaN" in r["error"] or "finite" in r["error"] for r in errors)
    assert replies[-1]["type"] == "snapshot"
