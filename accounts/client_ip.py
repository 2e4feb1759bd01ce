"""The client's IP address, as every per-IP limit (django-axes, our rate limits, API throttles)
must see it.

django-ipware is not installed, so django-axes' own AXES_IPWARE_* settings do nothing and it
would fall back to REMOTE_ADDR: behind a reverse proxy that is the proxy's address, and one
stranger could lock out every customer at once. AXES_CLIENT_IP_CALLABLE points here instead.

With AXES_IPWARE_PROXY_COUNT = N (the number of proxies we run in front of the app), each of
those proxies appends the address it received the request from to X-Forwarded-For, so the
client is the N-th entry from the right. Entries further left were written by the client and
are ignored: anyone can send a made-up X-Forwarded-For header.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def client_ip(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = getattr(settings, "AXES_IPWARE_PROXY_COUNT", None) or 0
    if proxies <= 0:
        return remote
    header = request.headers.get("x-forwarded-for", "")
    hops = [part.strip() for part in header.split(",") if part.strip()]
    if len(hops) < proxies:
        # Not through all of our proxies (a direct or internal request): the peer is the client.
        return remote
    candidate = hops[-proxies]
    return candidate if _valid(candidate) else remote
