"""The job list's websocket (`/ws/my-jobs/`), through the real ASGI server and a real worker:
the owner's rows follow their jobs live; nobody else's jobs reach them."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import session_cookie, wait_job_done, ws_collect
from webapp.jobs import job_create
from webapp.models import JobStatus

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def _url(stack) -> str:
    return stack.base_url.replace("http", "ws") + "/ws/my-jobs/"


def _headers(user) -> dict:
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_cookie(user)}"}


def test_anonymous_is_refused(stack):
    with pytest.raises(ConnectionClosed) as exc:
        asyncio.run(ws_collect(_url(stack), cookie=None, origin=stack.base_url,
                               until=lambda m: True, timeout=10))
    assert exc.value.rcvd.code == 4401


def test_foreign_origin_is_refused_at_the_handshake(stack, make_user):
    with pytest.raises(InvalidStatus) as exc:
        asyncio.run(ws_collect(_url(stack), cookie=session_cookie(make_user()),
                               origin="http://evil.example", until=lambda m: True, timeout=10))
    assert exc.value.response.status_code == 403


def test_rows_follow_the_owners_jobs_live_and_no_one_elses(stack, make_user):
    owner, other = make_user("owner"), make_user("other")
    headers = _headers(owner)

    async def watch() -> tuple[list[dict], str, str]:
        async with connect(_url(stack), origin=stack.base_url,
                           additional_headers=headers, open_timeout=10) as ws:
            await ws.send(json.dumps({"type": "resync", "ids": []}))  # joined: nothing to answer
            theirs = await asyncio.to_thread(
                job_create, user=other, kind="countdown", params={"steps": 3, "delay": 0.05})
            mine = await asyncio.to_thread(
                job_create, user=owner, kind="countdown", params={"steps": 5, "delay": 0.2})
            received = []
            async with asyncio.timeout(60):
                async for raw in ws:
                    received.append(json.loads(raw))
                    last = received[-1]
                    if last["type"] == "job" and last["job"]["status"] == JobStatus.SUCCEEDED:
                        if last["job"]["id"] == str(mine.id):
                            break
        return received, str(mine.id), str(theirs.id)

    received, mine, theirs = asyncio.run(watch())
    assert all(theirs not in json.dumps(m) for m in received)
    rows = [m["job"] for m in received if m["type"] == "job"]
    assert [r["status"] for r in rows][-1] == "succeeded"
    assert "running" in [r["status"] for r in rows]
    assert rows[-1]["progress"] == 1.0 and rows[-1]["run_seconds"] > 0.5
    progress = [m for m in received if m["type"] == "progress"]
    assert progress and all(m["id"] == mine for m in progress)
    assert 0 < progress[0]["progress"] < 1  # the bar moved between the two states
    versions = [m["version"] for m in received]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_resync_answers_the_owners_rows_only(stack, make_user):
    owner, other = make_user("owner"), make_user("other")
    mine = job_create(user=owner, kind="countdown", params={"steps": 1, "delay": 0})
    theirs = job_create(user=other, kind="countdown", params={"steps": 1, "delay": 0})
    wait_job_done(mine)
    wait_job_done(theirs)
    mine.refresh_from_db()
    headers = _headers(owner)

    async def ask() -> list[dict]:
        async with connect(_url(stack), origin=stack.base_url,
                           additional_headers=headers, open_timeout=10) as ws:
            ids = [str(theirs.id), "not-a-uuid", 42, str(mine.id)]
            await ws.send(json.dumps({"type": "resync", "ids": ids}))
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            try:  # nothing else comes: the foreign and malformed ids are ignored
                extra = json.loads(await asyncio.wait_for(ws.recv(), 1.5))
            except TimeoutError:
                extra = None
            return [first] + ([extra] if extra else [])

    answers = asyncio.run(ask())
    assert answers == [{"type": "job", "version": mine.version, "job": {
        "id": str(mine.id), "status": "succeeded", "progress": 1.0, "cancel_requested": False,
        "version": mine.version, "wait_seconds": mine.wait_seconds,
        "run_seconds": mine.run_seconds,
    }}]
