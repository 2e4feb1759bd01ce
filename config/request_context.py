"""The id that follows one request through everything it causes: its log lines, the Celery tasks
it queues and the outbox rows it writes. A context variable, so it is right per thread and per
asyncio task; tasks and outbox deliveries set it again from what they carry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="")


def current_request_id() -> str:
    """The id of the request (or task) running now, or "" outside of one."""
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def request_id_bound(value: str | None = None) -> Iterator[str]:
    """Run a block under `value` (a new id when None or empty), restoring the previous after."""
    token = _request_id.set(value or new_request_id())
    try:
        yield _request_id.get()
    finally:
        _request_id.reset(token)
