"""The Content-Security-Policy sent with every page.

Pages load scripts only as modules from our own static files and take their data from
`json_script` blocks, so no inline script and no `eval` is allowed; styles come from our
stylesheets only (scripts still set `element.style`, which a policy does not govern).
Pictures may be `data:` URLs (the playground's live filter grids) or `blob:` URLs
(previews of files the user is about to upload); media may be `blob:` URLs (a clip the
detection page fetched whole, so that it can seek without range requests).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Adds POLICY to every response that does not set a policy of its own (the sandboxed
    file downloads do)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
