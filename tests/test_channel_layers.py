"""The demo's in-memory channel layer (config/channel_layers.py): a push sent from a request
thread reaches a websocket waiting in the server's event loop at once, not when something else
happens to wake that loop. Requests run in a2wsgi's threads (config/asgi.py), each push in a
loop of its own."""

from __future__ import annotations

import asyncio
import threading
import time

from config.broadcast import group_send
from config.channel_layers import ThreadSafeInMemoryChannelLayer


def test_a_push_from_a_request_thread_wakes_the_waiting_websocket(settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "config.channel_layers.ThreadSafeInMemoryChannelLayer"}
    }
    from channels.layers import channel_layers

    channel_layers.backends.pop("default", None)  # built again from the settings above
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert isinstance(layer, ThreadSafeInMemoryChannelLayer)
    server_loop = asyncio.new_event_loop()
    received: list[tuple[float, dict]] = []
    waiting = threading.Event()

    async def websocket() -> None:
        channel = await layer.new_channel()
        await layer.group_add("order.CK-TEST", channel)
        waiting.set()
        # Nothing else runs in this loop: only the push itself can wake it.
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
        received.append((time.monotonic(), message))

    server = threading.Thread(target=server_loop.run_until_complete, args=(websocket(),))
    server.start()
    try:
        assert waiting.wait(5)
        time.sleep(0.05)  # the websocket is now waiting inside receive()
        sent_at = time.monotonic()
        assert group_send("order.CK-TEST", {"type": "order.status", "status": "paid"}) is True
        server.join(5)
    finally:
        server.join(5)
        server_loop.close()
        channel_layers.backends.pop("default", None)
    ((arrived_at, message),) = received
    assert message == {"type": "order.status", "status": "paid"}
    # At once: the loop was woken by the push (before, it waited for the next wake-up, here the
    # receive's own 5 s timeout).
    assert arrived_at - sent_at < 0.5
