"""An oversized upload is refused from its headers: the application never reads the body."""

from __future__ import annotations

import asyncio

from django.conf import settings

from webapp.asgi import application


def test_oversized_upload_is_refused_without_reading_the_body():
    declared = settings.UPLOAD_MAX_REQUEST_BYTES * 50  # ~5 GB
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/detect/",
        "raw_path": b"/detect/",
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-length", str(declared).encode()),
            (b"content-type", b"multipart/form-data; boundary=x"),
        ],
    }
    sent: list[dict] = []

    async def receive():
        raise AssertionError("the body was read")

    async def send(message):
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    assert sent[0]["status"] == 413
    assert b"one request may carry at most 100 MB" in sent[1]["body"]


def test_requests_within_the_limit_reach_django():
    scope = dict(
        type="http",
        asgi={"version": "3.0"},
        http_version="1.1",
        method="GET",
        scheme="http",
        path="/",
        raw_path=b"/",
        query_string=b"",
        root_path="",
        server=("127.0.0.1", 8000),
        client=("127.0.0.1", 50000),
        headers=[(b"host", b"127.0.0.1"), (b"content-length", b"0")],
    )
    sent: list[dict] = []

    bodies = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if bodies:
            return bodies.pop()
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    assert sent[0]["status"] == 200
    assert b"See convolutional networks learn" in b"".join(m.get("body", b"") for m in sent)
