"""Connections are bounded: on PostgreSQL the production settings build Django's psycopg pool
from DB_POOL_MIN/MAX/TIMEOUT (the test process itself runs without it, see conftest), and a
process with the pool never holds more than DB_POOL_MAX connections, however many threads ask."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ON_POSTGRES, test_database_url

ROOT = Path(__file__).resolve().parent.parent
PROD = {
    "DEBUG": "0",
    "SECRET_KEY": "x9#Lq2!vR7@pT4$wZ8^mN3&kB6*hJ1(cF5)gD0_sA-yU+eI=oP;aS:dG<fH>jK",
    "ALLOWED_HOSTS": "shop.example.com",
    "SITE_URL": "https://shop.example.com",
}


def python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "CACHE_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({"options": db.get("OPTIONS", {}), "conn_max_age": db["CONN_MAX_AGE"],
                  "cache": settings.CACHES["default"].get("OPTIONS")}))
"""


def test_production_settings_build_the_pool_and_bounded_cache_calls():
    shown = json.loads(
        python(
            SHOW_SETTINGS,
            **PROD,
            DATABASE_URL="postgres://shop@db.internal:5432/shop",
            REDIS_URL="redis://cache.internal:6379/0",
            DB_POOL_MIN="3",
            DB_POOL_MAX="7",
            DB_POOL_TIMEOUT="12.5",
        )
    )
    assert shown == {
        "options": {
            "connect_timeout": 5,
            "pool": {"min_size": 3, "max_size": 7, "timeout": 12.5},
        },
        # Django refuses a persistent connection beside the pool.
        "conn_max_age": 0,
        "cache": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }


def test_default_pool_size_and_switching_it_off():
    on = json.loads(python(SHOW_SETTINGS, DATABASE_URL="postgres://shop@db.internal/shop"))
    assert on["options"]["pool"] == {"min_size": 2, "max_size": 10, "timeout": 20.0}
    off = json.loads(
        python(SHOW_SETTINGS, DATABASE_URL="postgres://shop@db.internal/shop", DB_POOL="0")
    )
    assert off["options"] == {"connect_timeout": 5}


POOLED_THREADS = """
import json, threading, django
django.setup()
from django.db import connection
pids, lock, start = [], threading.Lock(), threading.Barrier(8, timeout=60)
def work():
    start.wait()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), pg_sleep(0.2)")
        pid = cursor.fetchone()[0]
    connection.close()  # back to the pool, as Django does at the end of a request
    with lock:
        pids.append(pid)
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps({"answered": len(pids), "backends": len(set(pids))}))
"""


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
def test_eight_threads_share_a_pool_of_two_connections(transactional_db):
    shown = json.loads(
        python(
            POOLED_THREADS,
            DATABASE_URL=test_database_url(),
            DB_POOL_MIN="1",
            DB_POOL_MAX="2",
            DB_POOL_TIMEOUT="10",
        )
    )
    # Every thread answered, through at most two server connections (without the pool: eight).
    assert shown["answered"] == 8
    assert shown["backends"] <= 2
