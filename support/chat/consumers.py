"""Live chat websockets. Consumers only check who is connecting, rate-limit, and join groups;
messages are stored (with their sequence number) by the chat services, which broadcast after
the commit. A client that reconnects sends `?after=<last seq>` and gets exactly what it missed."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import translation
from django.utils.translation import gettext as _

from ..limits import rate_key, rate_limit, rate_limited_message
from ..models import ChatMessage, Conversation
from ..selectors import chat_role, is_agent
from . import services as chat

CLOSE_NOT_FOUND = 4404
CLOSE_FORBIDDEN = 4403
CLOSE_SIGNED_OUT = 4401


def _int(value: Any) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """One conversation, for its customer or an agent."""

    conversation: Conversation
    role = ""

    async def connect(self) -> None:
        found = await self._load(self.scope["url_route"]["kwargs"]["public_id"])
        if found is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.conversation, self.role = found
        self.group = chat.conversation_group(self.conversation)
        await self.channel_layer.group_add(self.group, self.channel_name)
        if self.role == ChatMessage.Sender.CUSTOMER:
            await self.channel_layer.group_add(chat.PRESENCE_GROUP, self.channel_name)
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode())
        await self.send_json(await self._hello(_int(query.get("after", ["0"])[0])))

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(chat.PRESENCE_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "message":
            await self._message(content)
        elif kind == "typing":
            if await self._rate("typing") == 0:
                await self.channel_layer.group_send(
                    self.group,
                    {
                        "type": "chat.typing",
                        "sender": self.role,
                        "name": self._name(),
                        "origin": self.channel_name,
                    },
                )
        elif kind == "resume":
            messages = await self._messages_after(_int(content.get("after")))
            await self.send_json({"type": "messages", "messages": messages})

    async def _message(self, content: dict[str, Any]) -> None:
        if not await self._session_alive():
            # Signed out (or the session expired) since connecting: a socket must not
            # outlive the session that let it in.
            await self.close(code=CLOSE_SIGNED_OUT)
            return
        retry_after = await self._rate("message")
        if retry_after:
            with translation.override(self.conversation.language):
                text = rate_limited_message(retry_after)
            await self.send_json(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "message": text,
                    "retry_after": retry_after,
                }
            )
            return
        # NUL means nothing in a chat and PostgreSQL refuses it in text: dropped, not stored.
        body, client_id = (
            str(content.get(k, "")).replace("\x00", "") for k in ("body", "client_id")
        )
        result = await self._store(body, client_id)
        if isinstance(result, chat.ChatError):
            await self.send_json({"type": "error", "code": result.code, "message": str(result)})
        elif result is not None:
            # A resend of something already stored: the original broadcast may never have
            # reached this client, so confirm it directly (the page de-duplicates by seq).
            await self.send_json({"type": "message", "message": result})

    # Group events ----------------------------------------------------------------------------
    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "message", "message": event["message"]})

    async def chat_status(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "status", "conversation": event["conversation"]})

    async def chat_presence(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "presence", "online": event["online"]})

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event.get("origin") != self.channel_name:
            await self.send_json(
                {"type": "typing", "sender": event["sender"], "name": event.get("name", "")}
            )

    # Helpers ---------------------------------------------------------------------------------
    def _name(self) -> str:
        user = self.scope.get("user")
        if self.role == ChatMessage.Sender.AGENT and user is not None:
            return str(user.get_short_name())
        return self.conversation.name

    async def _rate(self, kind: str) -> int:
        session = self.scope.get("session")
        who = rate_key(
            self.scope.get("user"), getattr(session, "session_key", None), self.channel_name
        )
        return await database_sync_to_async(rate_limit)(kind, who)

    @database_sync_to_async
    def _session_alive(self) -> bool:
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        return not key or session.exists(key)

    @database_sync_to_async
    def _load(self, public_id: Any) -> tuple[Conversation, str] | None:
        conversation = Conversation.objects.filter(public_id=public_id).first()
        if conversation is None:
            return None
        role = chat_role(self.scope.get("user"), self.scope.get("session"), conversation)
        return (conversation, role) if role else None

    @database_sync_to_async
    def _hello(self, after: int) -> dict[str, Any]:
        conversation = Conversation.objects.select_related("agent", "ticket").get(
            pk=self.conversation.pk
        )
        return {
            "type": "hello",
            "conversation": chat.conversation_payload(conversation),
            "online": chat.agents_online(),
            "messages": chat.messages_after(conversation, after),
        }

    @database_sync_to_async
    def _messages_after(self, after: int) -> list[dict[str, Any]]:
        return chat.messages_after(self.conversation, after)

    @database_sync_to_async
    def _store(self, body: str, client_id: str) -> dict[str, Any] | chat.ChatError | None:
        """None when stored now (the broadcast delivers it), the payload when it was stored
        before, the error otherwise; errors are in the conversation's language."""
        with translation.override(self.conversation.language):
            try:
                message, created = chat.message_store_once(
                    conversation=self.conversation,
                    sender=self.role,
                    body=body,
                    author=self.scope.get("user"),
                    client_id=client_id[:64],
                )
            except chat.ChatError as error:
                return error
        return None if created else chat.message_payload(message)


class AgentLobbyConsumer(AsyncJsonWebsocketConsumer):
    """The agent console's socket: counts the agent as online while it is open, and pushes the
    waiting list whenever it changes."""

    present = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not await database_sync_to_async(is_agent)(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.agent = user
        await self.channel_layer.group_add(chat.LOBBY_GROUP, self.channel_name)
        await self.accept()
        await database_sync_to_async(chat.presence_connect)(user)
        self.present = True
        await self.send_json(await self._lobby())

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(chat.LOBBY_GROUP, self.channel_name)
        if self.present:
            self.present = False
            await database_sync_to_async(chat.presence_disconnect)(self.agent)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "heartbeat":
            await database_sync_to_async(chat.presence_heartbeat)(self.agent)

    async def chat_lobby(self, event: dict[str, Any]) -> None:
        await self.send_json(await self._lobby())

    @database_sync_to_async
    def _lobby(self) -> dict[str, Any]:
        def row(c: Conversation) -> dict[str, Any]:
            first = c.messages.filter(sender=ChatMessage.Sender.CUSTOMER).first()
            return {
                "id": str(c.public_id),
                "name": c.name or c.email or _("Guest"),
                "order": c.order.number if c.order is not None else "",
                "started": c.created_at.isoformat(),
                "preview": first.body[:140] if first else "",
            }

        waiting = Conversation.objects.filter(status=Conversation.Status.WAITING)
        active = Conversation.objects.filter(status=Conversation.Status.ACTIVE, agent=self.agent)
        return {
            "type": "lobby",
            "waiting": [row(c) for c in waiting.select_related("order").order_by("created_at")],
            "active": [row(c) for c in active.select_related("order").order_by("created_at")],
        }
