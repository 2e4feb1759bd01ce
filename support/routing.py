"""Websocket routes for live chat (filled in by the live-chat work)."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
