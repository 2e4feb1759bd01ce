"""The demo's channel layer: in memory, and safe to send to from a request thread.

Without Redis the layer's queues live in the web process, each bound to the event loop of the
websocket waiting on it. Requests run in a2wsgi's threads (config/asgi.py), where a push
(`config.broadcast.group_send`) runs in a loop of its own; putting into another loop's queue from
there does not wake that loop, so the push waited for whatever woke it next (a ping, another
request: seconds). Here a send to a channel someone is waiting on is handed to the waiting
loop, which wakes at once. Production uses Redis (channels-redis), which needs none of this.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.layers import InMemoryChannelLayer


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The loop each channel's receiver waits in (the websocket's, in the server's loop).
        self._receiver_loops: dict[str, asyncio.AbstractEventLoop] = {}

    async def receive(self, channel: str) -> Any:
        self._receiver_loops[channel] = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        loop = self._receiver_loops.get(channel)
        if loop is not None and loop.is_closed():
            del self._receiver_loops[channel]  # its websocket is long gone
            loop = None
        if loop is not None and loop.is_running() and loop is not asyncio.get_running_loop():
            sent = asyncio.run_coroutine_threadsafe(super().send(channel, message), loop)
            await asyncio.wrap_future(sent)
            return
        await super().send(channel, message)

    async def flush(self) -> None:
        await super().flush()
        self._receiver_loops.clear()
