"""Customer chat pages (filled in by the live-chat work)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
