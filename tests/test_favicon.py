"""The shop has an icon: linked from every page, and at /favicon.ico (which browsers ask for at
the root whatever a page links, the admin's pages included) instead of a 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

STATIC = Path(__file__).resolve().parent.parent / "static"
ICO_HEADER = b"\x00\x00\x01\x00\x01\x00"  # reserved 0, type 1 (icon), one image

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_served_from_the_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content.startswith(ICO_HEADER)
    assert response.content == (STATIC / "favicon.ico").read_bytes()
    assert "max-age=86400" in response["Cache-Control"]


def test_every_page_links_the_icon_and_the_links_work(client, shop):
    for url in [reverse("checkout:product_list"), reverse("accounts:login")]:
        page = client.get(url).content.decode()
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
        assert '<link rel="icon" href="/static/favicon.ico" sizes="32x32">' in page
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and b"<svg" in b"".join(svg.streaming_content)
    assert client.get("/static/favicon.ico").status_code == 200
