"""The one application every server runs: pages and the API over HTTP, live order status and
support chat over websockets (`/ws/`).

HTTP goes through Django's WSGI handler, run in a small pool of threads (a2wsgi), not through
Django's ASGI handler. Every view here is synchronous: under the ASGI handler each request
crosses from the event loop into asgiref's one thread-sensitive thread and back several times
(request_started, the view, response.close), and the whole process waits on that one thread.
Measured side by side (`make bench-web`, bench/RESULTS.md) the same pages answered about 2.5
times as many requests through the WSGI handler under the same uvicorn. Websockets stay ASGI:
Channels consumers are async and need the channel layer.
"""

import os
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models.
django_wsgi_app = get_wsgi_application()

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.exceptions import BadRequest  # noqa: E402

from checkout.routing import websocket_urlpatterns as checkout_routes  # noqa: E402
from support.routing import websocket_urlpatterns as support_routes  # noqa: E402

# WEB_THREADS requests of a process run at once (the GIL shares one core among them); more
# threads only help while requests wait on PostgreSQL or a provider. (django-stubs type the
# handler as returning a response; it is an iterable of bytes.)
_wsgi_in_threads = WSGIMiddleware(
    django_wsgi_app,  # type: ignore[arg-type]
    workers=settings.WEB_THREADS,
)


async def http_application(scope: Any, receive: Any, send: Any) -> None:
    """HTTP through the WSGI handler. a2wsgi reads the body from its threads by handing
    `receive()` to the event loop, which takes only a coroutine; some servers' `receive`
    returns another awaitable (granian's: every POST body failed), so it is wrapped in one.

    A client that leaves before its body has all arrived must not have the part that did
    arrive taken for the whole (a form cut after its first fields, a Pay without the rest):
    a2wsgi would read the disconnect as the end of the body, so it is a bad request here,
    answered 400 (to nobody) and logged as a warning, with nothing done."""

    async def receive_coroutine() -> Any:
        message = await receive()
        if message.get("type") == "http.disconnect":
            raise BadRequest("the client left before its request body arrived")
        return message

    await _wsgi_in_threads(scope, receive_coroutine, send)


application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([*checkout_routes, *support_routes]))
        ),
    }
)
