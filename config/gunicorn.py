"""gunicorn's settings for the web process (docs/deploy.md, section 5): `-c python:config.gunicorn`.

The command line in the guide carries the rest (bind, workers, timeouts); this file holds what a
command line cannot say.
"""

from __future__ import annotations

import gc
import os
from typing import Any

import gunicorn.http.wsgi

# gunicorn names itself (`Server: gunicorn`) on every response and has no switch for it; no
# response of ours names the software that serves it (tests/test_security_headers.py). Each
# response reads this module-level value when it is made, so emptying it here is enough.
gunicorn.http.wsgi.SERVER = ""


def child_exit(server: Any, worker: Any) -> None:
    """A worker that exits (restarted, killed) leaves its live gauges behind in the shared
    metrics folder: prometheus-client forgets them, as it asks gunicorn users to."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    """The app is loaded: what it loaded (modules, classes, settings, URL patterns) lives as long
    as the worker, so the garbage collector stops scanning it. Without this a full collection
    walked all of it about once every thousand pages, holding one page for about a tenth of a
    second and every request queued behind it (bench/RESULTS.md, session 6)."""
    gc.collect()
    gc.freeze()
