#!/usr/bin/env python
"""Serve the project the ways that keep websockets working, side by side, and drive them with wrk.

    make bench-web               # or: .venv/bin/python bench/web.py [--rounds 3 --seconds 4]
    make bench-web BENCH_ARGS="--servers uvicorn,daphne --pg postgres://postgres@127.0.0.1:5432/db"

One run, one throwaway SQLite database (DEBUG off, collected static files, the demo catalogue)
shared by every server; the floor (bench/floor.py: Django's default middleware, a template, one
query) and the bare view are served the same way as the chosen server. Rounds alternate between
the servers and the pages so that a noisy neighbour hurts all of them alike; each cell is the
median over the rounds. Ratios to the bare view and to the floor are the result: they hold
across machines, the req/s do not.

With --pg (or BENCH_DATABASE_URL) a "pay submit" row is added: wrk (bench/pay.lua) creates an
order over the API and pays it through the simulator with a fresh Idempotency-Key, each pair a
whole Pay, on that PostgreSQL database (migrated and seeded here; use a database of your own).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WRK = shutil.which("wrk") or "/usr/bin/wrk"
CPUS = os.cpu_count() or 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the servers ------------------------------------------------------------------------------
# Each maps (HTTP port, websocket port, workers) to the processes that serve HTTP and /ws/.


# gunicorn 27 opens a control socket at one path per user: two masters would share it.
GUNICORN = ["--no-control-socket"]


def gunicorn_sync(app: str) -> list[str]:
    # Sync workers: one request at a time each. One per CPU: on an idle 2-CPU machine 2 workers
    # answered 622 product lists a second, 3 workers 526 and 5 (gunicorn's 2 x CPUs + 1) 405.
    return [str(BIN / "gunicorn"), *GUNICORN, "--workers", str(CPUS), app]


def uvicorn(app: str) -> list[str]:
    # `make demo`'s server (one process there): one process per CPU, HTTP and websockets
    # in the same process, no Server header, no lifespan (Django does not speak it). What the
    # process runs over HTTP depends on the app: config.asgi sends it through Django's WSGI
    # handler in threads, bench.asgi_django through Django's ASGI handler.
    return [
        str(BIN / "uvicorn"),
        "--no-server-header",
        "--no-access-log",
        "--lifespan",
        "off",
        "--workers",
        str(CPUS),
        "--host",
        "127.0.0.1",
        app,
    ]


def granian(app: str) -> list[str]:
    # asginl: ASGI without the lifespan protocol. Granian always sends `server: granian`.
    return [
        str(BIN / "granian"),
        "--interface",
        "asginl",
        "--workers",
        str(CPUS),
        "--log-level",
        "warning",
        "--host",
        "127.0.0.1",
        app,
    ]


SERVERS: dict[str, dict[str, object]] = {
    "gunicorn-split": {
        "label": "gunicorn sync + uvicorn /ws/ (chosen)",
        "http": lambda port: [
            *gunicorn_sync("config.wsgi:application"),
            # docs/deploy.md's options: no Server header, dead workers' metrics forgotten.
            "-c",
            "python:config.gunicorn",
            "-b",
            f"127.0.0.1:{port}",
        ],
        "ws": lambda port: [
            str(BIN / "uvicorn"),
            "--no-access-log",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "config.asgi:application",
        ],
    },
    "uvicorn": {
        "label": "uvicorn, WSGI handler (demo)",
        "http": lambda port: [*uvicorn("config.asgi:application"), "--port", str(port)],
    },
    "uvicorn-asgi": {
        "label": "uvicorn, ASGI handler (before)",
        "http": lambda port: [*uvicorn("bench.asgi_django:application"), "--port", str(port)],
    },
    "daphne": {
        "label": "daphne (first README)",
        "http": lambda port: [
            str(BIN / "daphne"),
            "--no-server-name",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "bench.asgi_django:application",
        ],
    },
    "uvicorn-workers": {
        "label": "gunicorn + uvicorn workers",
        "http": lambda port: [
            str(BIN / "gunicorn"),
            *GUNICORN,
            "-k",
            "uvicorn.workers.UvicornWorker",
            "--workers",
            str(CPUS),
            "-b",
            f"127.0.0.1:{port}",
            "bench.asgi_django:application",
        ],
    },
    "granian": {
        "label": "granian ASGI (Server hdr)",
        "http": lambda port: [*granian("config.asgi:application"), "--port", str(port)],
    },
}
# Served the way the chosen server serves the project.
FLOOR = {
    "label": "floor (plain Django)",
    "http": lambda port: [
        *gunicorn_sync("bench.floor_wsgi:application"),
        "-b",
        f"127.0.0.1:{port}",
    ],
}


@dataclass
class Running:
    key: str
    label: str
    port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def start(key: str, spec: dict[str, object], env: dict[str, str], log: Path) -> Running:
    port = free_port()
    running = Running(key, str(spec["label"]), port)
    commands = [spec["http"](port)]  # type: ignore[operator]
    if "ws" in spec:
        commands.append(spec["ws"](free_port()))  # type: ignore[operator]
    for command in commands:
        out = open(log / f"{key}.log", "ab")  # noqa: SIM115 - closed with the process
        running.procs.append(
            subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
            )
        )
    wait_ready(running)
    return running


def wait_ready(running: Running, path: str = "/favicon.ico") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{running.label} did not answer on port {running.port}")


def stop(running: Running) -> None:
    for proc in running.procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in running.procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# --- HTTP set-up: a cart in a session, a paid order ------------------------------------------


def call(
    port: int, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], list[str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body.encode(), headers=headers or {})
    response = conn.getresponse()
    text = response.read().decode()
    cookies = [v.split(";", 1)[0] for k, v in response.getheaders() if k.lower() == "set-cookie"]
    return response.status, dict(response.getheaders()), cookies, text


def cart_cookie(port: int) -> str:
    """A session holding one mug: what the checkout page needs to show its form."""
    _, _, cookies, page = call(port, "GET", "/")
    jar = dict(c.split("=", 1) for c in cookies)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token and "csrftoken" in jar, "the product list has no add-to-cart form"
    status, _, more, _ = call(
        port,
        "POST",
        "/cart/update/",
        f"sku=mug-classic&csrfmiddlewaretoken={token.group(1)}",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={jar['csrftoken']}",
            "Referer": f"http://127.0.0.1:{port}/",
        },
    )
    assert status == 302, f"adding to the cart answered {status}"
    jar.update(c.split("=", 1) for c in more)
    # "Added to your cart." is shown by the next page, which tells the browser to forget it: a
    # shopper coming back to the checkout no longer sends it (before session 6 every request
    # here did, and every page showed and verified the message again).
    jar.pop("messages", None)
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def paid_order(port: int) -> str:
    """The status page of an order paid through the simulator, as its emailed link opens it."""
    status, _, _, text = call(
        port,
        "POST",
        "/api/v1/orders/",
        json.dumps(
            {"email": "bench@example.com", "items": [{"sku": "mug-classic", "quantity": 1}]}
        ),
        {"Content-Type": "application/json"},
    )
    assert status == 201, (status, text)
    order = json.loads(text)
    status, _, _, text = call(
        port,
        "POST",
        f"/api/v1/orders/{order['number']}/payments/",
        json.dumps({"method": "card", "payment_method": "pm_card_visa"}),
        {
            "Content-Type": "application/json",
            "Idempotency-Key": f"bench-{time.time_ns()}",
            "X-Client-Secret": order["client_secret"],
        },
    )
    assert status == 201, (status, text)
    return f"/orders/{order['number']}/?key={order['client_secret']}"


# --- wrk --------------------------------------------------------------------------------------


@dataclass
class Sample:
    rps: float
    p50: float  # ms
    p99: float
    bad: int  # non-2xx/3xx answers and socket errors


def to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, seconds: int, connections: int, headers: list[str], script: str = "") -> Sample:
    command = [WRK, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    for errors in re.findall(r"Socket errors: (.*)", out):
        bad += sum(int(n) for n in re.findall(r"\d+", errors))
    return Sample(rps, p50, p99, bad)


# --- the run ----------------------------------------------------------------------------------


def prepare(env: dict[str, str]) -> None:
    manage = [sys.executable, "manage.py"]
    demo = env | {"DEBUG": "1"}
    # seed_demo refuses with DEBUG off; collectstatic must write the manifest DEBUG off reads.
    for args, with_env in (
        (["migrate", "--noinput"], demo),
        (["seed_demo"], demo),
        (["collectstatic", "--noinput"], env),
    ):
        subprocess.run(
            [*manage, *args, "--verbosity", "0"],
            cwd=ROOT,
            env=with_env,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    versions = []
    for package in ("django", "gunicorn", "uvicorn", "daphne", "granian"):
        try:
            from importlib.metadata import version

            versions.append(f"{package} {version(package)}")
        except Exception:  # noqa: BLE001
            pass
    wrk_version = subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    return (
        f"{CPUS} CPUs ({model}), Python {platform.python_version()}, {', '.join(versions)}, "
        f"{wrk_version.strip()}; load average at start {load[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4, help="each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help=f"comma-separated, of: {', '.join(SERVERS)}",
    )
    parser.add_argument("--pg", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    keys = [k for k in args.servers.split(",") if k]
    unknown = set(keys) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")

    var = Path(tempfile.mkdtemp(prefix="checkout-bench-web-"))
    log = var / "logs"
    log.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(ROOT),
        "VAR_DIR": str(var),
        "DEBUG": "0",
        "SECRET_KEY": "bench-web-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": "http://127.0.0.1:8000",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
        # One client, thousands of requests a second: the limits would (rightly) answer 429,
        # which measures nothing. The throttle still counts every request.
        "API_THROTTLE_ANON": "10000000/min",
        "API_THROTTLE_USER": "10000000/min",
        "RISK_VELOCITY_REVIEW": "100000000",
        "RISK_VELOCITY_REFUSE": "100000000",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "FLOOR_DB": str(var / "checkout.sqlite3"),
    }
    print(f"machine: {machine()}", flush=True)
    prepare(env)
    # Ctrl-C or a kill stops every server this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    started: list[Running] = []
    results: dict[tuple[str, str], list[Sample]] = {}
    try:
        floor = start("floor", FLOOR, env | {"DJANGO_SETTINGS_MODULE": "bench.floor"}, log)
        started.append(floor)
        wait_ready(floor, "/bare/")
        servers = []
        for key in keys:
            servers.append(start(key, SERVERS[key], env, log))
            started.append(servers[-1])
        cookie = cart_cookie(servers[0].port)
        status_page = paid_order(servers[0].port)
        cases = {
            "product list": ("/", []),
            "checkout page": ("/checkout/", [f"Cookie: {cookie}"]),
            "order status page": (status_page, []),
            "API product list": ("/api/v1/products/", ["Accept: application/json"]),
        }
        floor_cases = {"bare view": ("/bare/", []), "floor view": ("/floor/", [])}
        for server in started:  # warm every worker's imports and caches
            for path, headers in (floor_cases if server is floor else cases).values():
                wrk(server.url(path), 1, args.connections, headers)
        for round_ in range(args.rounds):
            print(f"round {round_ + 1}/{args.rounds}", flush=True)
            for server in started if round_ % 2 == 0 else started[::-1]:
                todo = floor_cases if server is floor else cases
                for name, (path, headers) in todo.items():
                    sample = wrk(server.url(path), args.seconds, args.connections, headers)
                    results.setdefault((server.label, name), []).append(sample)
    finally:
        for server in started:
            stop(server)

    if args.pg:
        pay_rows(args, env, log, keys, results)

    bare = statistics.median(s.rps for s in results[(str(FLOOR["label"]), "bare view")])
    floor_rps = statistics.median(s.rps for s in results[(str(FLOOR["label"]), "floor view")])
    print()
    print(
        f"wrk -c{args.connections}, {args.seconds} s x {args.rounds} alternating rounds, "
        f"medians; SQLite, DEBUG off; logs in {log}"
    )
    print(
        f"{'server':<38}{'case':<20}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'x bare':>8}{'x floor':>8}{'bad':>6}"
    )
    for (label, name), samples in results.items():
        rps = statistics.median(s.rps for s in samples)
        print(
            f"{label:<38}{name:<20}{rps:>8.0f}"
            f"{statistics.median(s.p50 for s in samples):>8.1f}"
            f"{statistics.median(s.p99 for s in samples):>8.1f}"
            f"{rps / bare:>8.2f}{rps / floor_rps:>8.2f}{sum(s.bad for s in samples):>6}"
        )


def pay_rows(
    args: argparse.Namespace,
    env: dict[str, str],
    log: Path,
    keys: list[str],
    results: dict[tuple[str, str], list[Sample]],
) -> None:
    """Pay submits on PostgreSQL: each server in turn on the same database."""
    pg = env | {"DATABASE_URL": args.pg}
    prepare(pg)
    script = str(ROOT / "bench" / "pay.lua")
    for key in keys:
        server = start(key, SERVERS[key], pg, log)
        try:
            wrk(server.url("/api/v1/orders/"), 1, args.connections, [], script)
            for _ in range(args.rounds):
                sample = wrk(
                    server.url("/api/v1/orders/"), args.seconds, args.connections, [], script
                )
                results.setdefault((server.label, "pay submit (PG)"), []).append(sample)
        finally:
            stop(server)


if __name__ == "__main__":
    main()
