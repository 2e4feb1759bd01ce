import os
from contextlib import AbstractContextManager
from typing import Any

from celery import Celery, signals

from .request_context import current_request_id, request_id_bound

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("checkout")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The message header that carries the id of the request (or task) that queued a task.
REQUEST_ID_HEADER = "request_id"


@signals.setup_logging.connect
def _django_logging(**_: Any) -> None:
    """Workers log through Django's LOGGING (JSON with the request id in production) instead
    of Celery's own format: a receiver here tells Celery not to configure logging itself."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.before_task_publish.connect
def _send_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Put the current request id on every task sent, so its run logs under the same id."""
    request_id = current_request_id()
    if headers is not None and request_id:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


# task id -> the binding made at prerun, closed at postrun (both run in the worker's thread).
_bound: dict[str, AbstractContextManager[str]] = {}


def _request_id_of(task: Any) -> str:
    request = getattr(task, "request", None)
    # A worker copies custom message headers onto the request; eager runs keep them in .headers.
    found = getattr(request, REQUEST_ID_HEADER, None) or (
        (getattr(request, "headers", None) or {}).get(REQUEST_ID_HEADER)
    )
    return str(found or "")


@signals.task_prerun.connect
def _bind_request_id(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Run the task under the id it was sent with; an eager task keeps its caller's id, and a
    task nobody's request queued (beat) gets a fresh one so its own lines still group."""
    if task_id is None:
        return
    binding = request_id_bound(_request_id_of(task) or current_request_id() or None)
    binding.__enter__()
    _bound[task_id] = binding


@signals.task_postrun.connect
def _unbind_request_id(task_id: str | None = None, **_: Any) -> None:
    binding = _bound.pop(task_id or "", None)
    if binding is not None:
        binding.__exit__(None, None, None)
