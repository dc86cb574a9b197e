"""Who may open a job's websocket, through the real ASGI server."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import session_cookie, ws_collect
from webapp.jobs import job_create

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def _open(stack, job, *, cookie, origin):
    url = stack.base_url.replace("http", "ws") + f"/ws/jobs/{job.id}/"
    return asyncio.run(
        ws_collect(url, cookie=cookie, origin=origin, until=lambda m: True, timeout=10)
    )


@pytest.fixture
def job(make_user):
    return job_create(user=make_user("owner"), kind="countdown", params={"steps": 1, "delay": 0})


def test_owner_gets_a_snapshot(stack, job):
    msgs = _open(stack, job, cookie=session_cookie(job.user), origin=stack.base_url)
    assert msgs[0]["type"] == "snapshot" and msgs[0]["job"]["id"] == str(job.id)


def test_staff_may_watch_any_job(stack, job, make_user):
    msgs = _open(
        stack, job, cookie=session_cookie(make_user("op", staff=True)), origin=stack.base_url
    )
    assert msgs[0]["type"] == "snapshot"


def test_foreign_origin_is_refused_at_the_handshake(stack, job):
    with pytest.raises(InvalidStatus) as exc:
        _open(stack, job, cookie=session_cookie(job.user), origin="http://evil.example")
    assert exc.value.response.status_code == 403


def test_anonymous_is_refused(stack, job):
    with pytest.raises(ConnectionClosed) as exc:
        _open(stack, job, cookie=None, origin=stack.base_url)
    assert exc.value.rcvd.code == 4401


def test_another_users_job_is_refused(stack, job, make_user):
    with pytest.raises(ConnectionClosed) as exc:
        _open(stack, job, cookie=session_cookie(make_user("mallory")), origin=stack.base_url)
    assert exc.value.rcvd.code == 4403


def test_dashboard_socket_is_staff_only(stack, make_user):
    url = stack.base_url.replace("http", "ws") + "/ws/dashboard/"
    with pytest.raises(ConnectionClosed) as exc:
        asyncio.run(
            ws_collect(
                url,
                cookie=session_cookie(make_user("pleb")),
                origin=stack.base_url,
                until=lambda m: True,
                timeout=10,
            )
        )
    assert exc.value.rcvd.code == 4403
    msgs = asyncio.run(
        ws_collect(
            url,
            cookie=session_cookie(make_user("boss", staff=True)),
            origin=stack.base_url,
            until=lambda m: True,
            timeout=10,
        )
    )
    stats = msgs[0]["stats"]
    assert msgs[0]["type"] == "dashboard"
    assert set(stats["queues"]) == {"gpu", "default"}
    assert any(w["online"] for w in stats["workers"])


def test_a_quiet_socket_stays_open(stack, make_user):
    from websockets.asyncio.client import connect

    from webapp.models import Job

    user = make_user("patient")
    job = Job.objects.create(user=user, kind="countdown")  # a row only: nothing will happen
    url = stack.base_url.replace("http", "ws") + f"/ws/jobs/{job.id}/"
    headers = {"Cookie": f"sessionid={session_cookie(user)}"}

    async def wait_then_resync():
        async with connect(url, origin=stack.base_url, additional_headers=headers) as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"
            await asyncio.sleep(8)  # longer than channels_redis's 5 s blocking read
            await ws.send(json.dumps({"type": "resync"}))
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    assert asyncio.run(wait_then_resync())["type"] == "snapshot"
