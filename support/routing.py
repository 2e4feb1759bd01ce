"""Websocket routes for live chat: one conversation, and the agents' console."""

from __future__ import annotations

from django.urls import path

from .chat.consumers import AgentLobbyConsumer, ChatConsumer

websocket_urlpatterns = [
    path("ws/support/chat/<uuid:public_id>/", ChatConsumer.as_asgi()),
    path("ws/support/agents/", AgentLobbyConsumer.as_asgi()),
]
