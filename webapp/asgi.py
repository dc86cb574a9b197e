"""One ASGI app for pages, JSON endpoints and websockets.

Requests whose declared body is over UPLOAD_MAX_REQUEST_BYTES are refused unread.
Websockets pass the origin check (the Origin header must name an ALLOWED_HOSTS host)
and the session authentication before they reach a consumer.
"""

import os

from django.core.asgi import get_asgi_application
from django.urls import re_path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from webapp.bodylimit import BodySizeLimit  # noqa: E402
from webapp.consumers import NoSuchSocket  # noqa: E402
from webapp.routing import websocket_urlpatterns  # noqa: E402

# Last, whatever routing.py lists: any other path is closed with 4404 rather than
# raising in the router (which the server logs as a crash).
any_other_socket = re_path(r"", NoSuchSocket.as_asgi())

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([*websocket_urlpatterns, any_other_socket]))
        ),
    }
)
