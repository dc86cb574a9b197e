"""Refuse oversized request bodies from their headers, before a byte of them is read.

Django reads a request's whole body (to a temporary file) before any view or form can
look at it, so a size check in a form comes too late for a 10 GB upload. This ASGI
wrapper answers 413 from the Content-Length header instead.
"""

from __future__ import annotations

from django.conf import settings


class BodySizeLimit:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            limit = settings.UPLOAD_MAX_REQUEST_BYTES
            length = dict(scope.get("headers", [])).get(b"content-length", b"0")
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = False  # malformed: the server itself rejects it
            if too_big:
                await self._refuse(send, int(length), limit)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(send, length: int, limit: int) -> None:
        body = (
            f"This upload is {length / 2**20:.0f} MB; one request may carry at most "
            f"{limit / 2**20:.0f} MB. Send fewer or smaller files."
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
