"""config/gunicorn.py: what the web process's gunicorn is told beyond its command line."""

from __future__ import annotations

import gc

import gunicorn.http.wsgi

from config import gunicorn as config


def test_a_worker_freezes_what_it_loaded_so_collections_skip_it():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        config.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 10_000  # the app's modules and what they hold
    finally:
        gc.unfreeze()


def test_the_server_header_is_emptied():
    assert gunicorn.http.wsgi.SERVER == ""
