"""Error emails to ADMINS, at most one per distinct error per window.

Django emails every 500 to ADMINS. When something breaks for everyone (a service down, a bad
deploy) or someone sends the same broken request in a loop, that is thousands of identical
emails: the inbox floods and the one new error is lost in it. An error is "the same" when it is
the same exception type raised at the same place (file, line), or, for an error logged without
an exception, the same message template logged at the same place.

The window is kept in the shared cache, so N web processes still send one email. When the cache
itself is down (often the very error being reported) each process keeps its own window instead:
a few emails, never a flood.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from django.utils.log import AdminEmailHandler

DEFAULT_WINDOW_SECONDS = 15 * 60
_LOCAL_LIMIT = 1000  # distinct errors remembered per process when the cache is down
_PROJECT = str(Path(__file__).resolve().parent.parent)
_LIBRARIES = ("/site-packages/", "/dist-packages/", "/.venv/", "/lib/python")


def _ours(filename: str) -> bool:
    return filename.startswith(_PROJECT) and not any(part in filename for part in _LIBRARIES)


def error_signature(record: logging.LogRecord) -> str:
    """Exception type + where our code raised it; else the log call's own place.

    "Where" is the innermost frame in our own code: two views failing inside the same library
    call (the database driver refusing a value) are two errors, not one.
    """
    if record.exc_info and record.exc_info[0] is not None:
        exc_type, _exc, tb = record.exc_info
        frames = traceback.extract_tb(tb) if tb is not None else []
        ours = [f for f in frames if _ours(f.filename)] or frames
        where = f"{ours[-1].filename}:{ours[-1].lineno}" if ours else record.pathname
        kind = f"{exc_type.__module__}.{exc_type.__qualname__}"
    else:
        where = f"{record.pathname}:{record.lineno}"
        kind = str(record.msg)
    return hashlib.sha256(f"{record.name}|{kind}|{where}".encode()).hexdigest()[:32]


class ThrottledAdminEmailHandler(AdminEmailHandler):
    def __init__(self, *args: Any, window_seconds: int = DEFAULT_WINDOW_SECONDS, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._local: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if self.first_in_window(error_signature(record)):
            super().emit(record)

    def first_in_window(self, signature: str) -> bool:
        """True for the first report of this error in the window (then it is remembered)."""
        try:
            from django.core.cache import cache

            return bool(cache.add(f"error-mail:{signature}", 1, timeout=self.window_seconds))
        except Exception:  # noqa: BLE001 - the cache being down must not stop the report
            return self._first_locally(signature)

    def _first_locally(self, signature: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._local) >= _LOCAL_LIMIT:
                self._local = {k: until for k, until in self._local.items() if until > now}
            if self._local.get(signature, 0.0) > now:
                return False
            self._local[signature] = now + self.window_seconds
            return True
