"""Log lines a shop can search: every record carries the id of the request (or task) that
caused it. JSON in production (one object a line, for a log shipper), text in development.

Written with the standard library so logging never depends on a package that might fail to
import; the LOGGING setting picks the formatter with LOG_FORMAT."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from .request_context import current_request_id


def _request_id(record: logging.LogRecord) -> str:
    # The filter sets it on the console handler; a handler added without the filter (an email
    # handler, a test's) still gets it from the context the record was made in.
    return str(getattr(record, "request_id", "") or current_request_id())


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request id (empty outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, and
    the exception text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: a message argument that JSON cannot encode must not lose the line.
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines for a developer's terminal, with the request id in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - stdlib's name
        # A copy: the record is shared with every other handler and must not be changed here.
        return str(self._fmt) % {**record.__dict__, "request_id": _request_id(record) or "-"}
