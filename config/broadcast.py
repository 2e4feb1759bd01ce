"""Best-effort, bounded sends to the channel layer (live order status, chat).

A websocket push is a courtesy: the pages also poll, and the state is already committed. So a
send that the layer (Redis in production) cannot take within BROADCAST_TIMEOUT_SECONDS is
dropped with a warning instead of holding the request: with Redis frozen, each of a Pay
request's pushes waited for channels-redis' own timeouts (16 s for one Pay), and with Redis
stopped the chat's push raised after its message was saved."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

BROADCAST_TIMEOUT_SECONDS = 0.5


def group_send(group: str, message: dict[str, Any]) -> bool:
    """Send `message` to `group`; True when the layer took it, False (logged) when it did not
    answer in time or failed."""
    layer = get_channel_layer()
    if layer is None:
        return False

    async def send() -> None:
        await asyncio.wait_for(layer.group_send(group, message), BROADCAST_TIMEOUT_SECONDS)

    try:
        async_to_sync(send)()
    except Exception as exc:  # noqa: BLE001 - a dead channel layer must not fail the request
        logger.warning(
            "channel layer unreachable, push to %s dropped: %s: %s", group, type(exc).__name__, exc
        )
        return False
    return True
