#!/usr/bin/env python
"""Torture the database connections: N daphne processes on PostgreSQL with production-like
settings, then many Pay requests at the same instant; prints how each was answered.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/checkout_x \\
        .venv/bin/python bench/pay_torture.py [--processes 2] [--requests 200] [--no-pool]
        [--db-connection-limit 30] [--redis-url redis://127.0.0.1:6379/9]

Before the pool (--no-pool) every request thread of daphne opens its own connection, so 200
requests at once ask PostgreSQL for ~200 connections and those past max_connections get 500
"too many clients". With the pool each process holds at most DB_POOL_MAX and the rest wait.

On a shared server, --db-connection-limit sets the database's own CONNECTION LIMIT for the run
(restored after): the same failure at a smaller scale ("too many connections for database"),
without taking the connections other users of the server need.

Not part of the test suite: it migrates and seeds the database it is given, and starts servers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(args: argparse.Namespace, var_dir: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": args.database_url,
        # Production-like: DEBUG off, its secrets, plain HTTP on localhost.
        "DEBUG": "0",
        "SECRET_KEY": "torture-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": "http://127.0.0.1:8000",
        "SECURE_SSL_REDIRECT": "0",
        "VAR_DIR": var_dir,
        "LOG_LEVEL": "WARNING",
        "DB_POOL": "0" if args.no_pool else "1",
        "DB_POOL_MAX": str(args.pool_max),
        "DB_POOL_TIMEOUT": str(args.pool_timeout),
        # One client address sends every request: the API throttle and the risk rules would
        # (rightly) stop it long before the database is tested.
        "API_THROTTLE_ANON": "1000000/min",
        "RISK_VELOCITY_REVIEW": "1000000",
        "RISK_VELOCITY_REFUSE": "1000000",
        "RISK_IP_VELOCITY_REVIEW": "1000000",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "CELERY_QUEUE": "pay-torture",
    }
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def _manage(env: dict[str, str], *command: str) -> None:
    subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)


def _psql(database_url: str, sql: str) -> None:
    """Runs SQL on the database of DATABASE_URL through psycopg (autocommit)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _start_servers(
    env: dict[str, str], count: int, logs: Path
) -> list[tuple[subprocess.Popen[bytes], int]]:
    servers = []
    for index in range(count):
        port = _free_port()
        log = (logs / f"daphne-{index}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "config.asgi:application",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        servers.append((process, port))
    for process, port in servers:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"daphne on {port} exited; see {logs}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"daphne on {port} did not start within 60 s") from None
                time.sleep(0.2)
    return servers


def _request(
    port: int, method: str, path: str, body: dict[str, object], headers: dict[str, str]
) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(
            method,
            path,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", "Host": "127.0.0.1", **headers},
        )
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        return 0, type(exc).__name__
    finally:
        conn.close()


def _create_orders(ports: list[int], count: int) -> list[tuple[int, str, str]]:
    """(port, number, client secret) of `count` guest orders, made a few at a time."""
    orders: list[tuple[int, str, str]] = []
    lock = threading.Lock()
    todo = iter(range(count))

    def worker() -> None:
        while True:
            with lock:
                index = next(todo, None)
            if index is None:
                return
            port = ports[index % len(ports)]
            status, text = _request(
                port,
                "POST",
                "/api/v1/orders/",
                {
                    "email": f"torture{index}@example.com",
                    "items": [{"sku": "mug-classic", "quantity": 1}],
                },
                {},
            )
            if status != 201:
                raise SystemExit(f"creating an order answered {status}: {text[:300]}")
            data = json.loads(text)
            with lock:
                orders.append((port, data["number"], data["client_secret"]))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return orders


def _pay_all(orders: list[tuple[int, str, str]]) -> tuple[Counter[str], float]:
    """Every Pay request from its own thread, released at the same instant."""
    barrier = threading.Barrier(len(orders))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(port: int, number: str, secret: str) -> None:
        barrier.wait()
        status, text = _request(
            port,
            "POST",
            f"/api/v1/orders/{number}/payments/",
            {"method": "card", "payment_method": "pm_card_visa"},
            {"Idempotency-Key": f"torture-{uuid.uuid4().hex}", "X-Client-Secret": secret},
        )
        label = str(status) if status else f"no answer ({text})"
        with lock:
            outcomes[label] += 1

    threads = [threading.Thread(target=worker, args=order) for order in orders]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default="", help="cache and broker; default: embedded")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-pool", action="store_true", help="the behaviour before the pool")
    parser.add_argument("--pool-max", type=int, default=10)
    parser.add_argument("--pool-timeout", type=float, default=20.0)
    parser.add_argument("--db-connection-limit", type=int, default=0)
    args = parser.parse_args()
    if urlparse(args.database_url).scheme not in {"postgres", "postgresql"}:
        raise SystemExit("set DATABASE_URL (or --database-url) to a PostgreSQL database you own")

    var_dir = tempfile.mkdtemp(prefix="pay-torture-")
    env = _env(args, var_dir)
    print(f"migrating and seeding {urlparse(args.database_url).path.lstrip('/')} ...", flush=True)
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage({**env, "DEBUG": "1"}, "seed_demo")  # setup only; it refuses production settings
    database = urlparse(args.database_url).path.lstrip("/")
    if args.db_connection_limit:
        _psql(
            args.database_url,
            f'ALTER DATABASE "{database}" CONNECTION LIMIT {args.db_connection_limit}',
        )
    servers = _start_servers(env, args.processes, Path(var_dir))
    try:
        ports = [port for _, port in servers]
        orders = _create_orders(ports, args.requests)
        outcomes, seconds = _pay_all(orders)
    finally:
        for process, _ in servers:
            process.terminate()
        for process, _ in servers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if args.db_connection_limit:
            _psql(args.database_url, f'ALTER DATABASE "{database}" CONNECTION LIMIT -1')
        if args.redis_url:
            import redis

            # The receipts queued for a worker that this run never starts.
            redis.Redis.from_url(args.redis_url).delete("pay-torture", "_kombu.binding.pay-torture")
    pool = "off" if args.no_pool else f"on, max {args.pool_max} per process"
    print(
        f"{args.requests} concurrent Pay requests, {args.processes} daphne processes, pool {pool}"
        + (
            f", database connection limit {args.db_connection_limit}"
            if args.db_connection_limit
            else ""
        )
    )
    for label, count in sorted(outcomes.items()):
        print(f"  {label}: {count}")
    print(f"  all answered in {seconds:.1f} s; server logs in {var_dir}")
    # Production pages say only "Server Error (500)"; the cause is in the servers' logs.
    causes: Counter[str] = Counter()
    for log in Path(var_dir).glob("daphne-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            lowered = line.lower()
            if "too many clients" in lowered or "too many connections" in lowered:
                causes["too many connections (PostgreSQL refused)"] += 1
            elif "pooltimeout" in lowered or "couldn't get a connection" in lowered:
                causes["waited past DB_POOL_TIMEOUT"] += 1
    for cause, count in sorted(causes.items()):
        print(f"  log lines: {cause}: {count}")


if __name__ == "__main__":
    main()
