"""docs/deploy.md, run as written.

The guide's `sh` blocks run in order, each in a fresh bash that first loads the environment file
(the guide's own loading block, pointed at a file this test writes from deploy/env.example). Each
`sh process=…` block is a long-running process started in the background: two web machines
(each a gunicorn for pages and the API and a uvicorn for websockets), two workers and one beat
against one PostgreSQL database and one private Redis. Before the backup section, a customer
pays once by card through stripe-python against a local Stripe stand-in over HTTP, reads the
order from the other web machine, and an admin refunds it once; the backup is then restored
into another database and checked there.

The structure checks at the top run everywhere (no services needed); the smoke needs PostgreSQL
(DATABASE_URL) and runs in `.ci/run`'s second pass.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from email import message_from_bytes
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.conftest import ON_POSTGRES

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"
UNITS = ROOT / "deploy" / "systemd"
ENV_FILE_IN_GUIDE = "/etc/checkout/env"
# The customer's address the pretend proxy forwards (TEST-NET-3).
CLIENT_IP = "203.0.113.7"
BLOCK = re.compile(r"^```sh(?: process=(?P<name>[a-z]+))?\n(?P<body>.*?)^```$", re.M | re.S)
HEADING = re.compile(r"^## (?P<title>.+)$", re.M)


@dataclass(frozen=True)
class Block:
    section: str
    process: str  # "" for a command that runs and exits
    body: str


def guide_blocks() -> list[Block]:
    text = GUIDE.read_text()
    headings = [(m.start(), m.group("title")) for m in HEADING.finditer(text)]
    blocks = []
    for match in BLOCK.finditer(text):
        section = [title for start, title in headings if start < match.start()][-1]
        blocks.append(Block(section, match.group("name") or "", match.group("body").strip()))
    return blocks


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


# --- The guide, the units and the example environment agree ---------------------------------


def test_the_guide_has_the_blocks_the_smoke_runs():
    blocks = guide_blocks()
    assert [b.process for b in blocks if b.process] == ["web", "websocket", "worker", "beat"]
    loading = [b for b in blocks if ENV_FILE_IN_GUIDE in b.body]
    assert len(loading) == 1 and loading[0].body == f"set -a; . {ENV_FILE_IN_GUIDE}; set +a"
    assert any(b.section.startswith("10.") for b in blocks), "the backup section has commands"


def test_each_systemd_unit_runs_exactly_the_guides_command():
    commands = {b.process: b.body for b in guide_blocks() if b.process}
    for name, command in commands.items():
        unit = (UNITS / f"checkout-{name}.service").read_text()
        (exec_start,) = re.findall(r"^ExecStart=/bin/sh -c '(.*)'$", unit, re.M)
        assert exec_start == command, name
        assert "EnvironmentFile=/etc/checkout/env" in unit


def test_every_variable_the_commands_use_is_in_the_example_environment():
    used = set()
    for block in guide_blocks():
        used |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", block.body))
    documented = set(env_example())
    assert used - documented == set()
    # And every variable the example sets is one the settings read or a command uses.
    settings_source = (ROOT / "config" / "settings.py").read_text()
    unknown = {
        name
        for name in documented - used
        if f'"{name}"' not in settings_source and name != "PROMETHEUS_MULTIPROC_DIR"
    }
    assert unknown == set()


# --- The smoke: the whole stack, started as the guide says ------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_url(name: str) -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db['USER']}{password}@{host}:{port}/{name}"


def _recreate_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Client:
    """A browser-less client of one web machine, behind a pretend TLS proxy. It keeps its
    cookies itself: production marks them Secure, which a cookie jar would not send over the
    plain HTTP between the proxy and the app."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}
        self.opener = urllib.request.build_opener(_NoRedirect())

    def call(
        self, method: str, path: str, *, body: Any = None, form: Any = None, headers: Any = None
    ) -> tuple[int, bytes]:
        data = None
        # What the TLS proxy adds; Host without the app's port, as the proxy forwards it.
        all_headers = {
            "X-Forwarded-Proto": "https",
            # The client's address, as the proxy appends it (AXES_IPWARE_PROXY_COUNT=1).
            "X-Forwarded-For": CLIENT_IP,
            "Host": "127.0.0.1",
            "Referer": "https://127.0.0.1/",
        }
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        all_headers.update(headers or {})
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=all_headers
        )
        try:
            response = self.opener.open(request, timeout=30)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return response.status, response.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Stack:
    env_file: Path
    env: dict[str, str]
    logs: Path
    processes: list[tuple[str, subprocess.Popen[bytes]]]

    def run(self, body: str, extra: str = "") -> None:
        script = f"set -a; . {self.env_file}; set +a\n{extra}{body}\n"
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        assert result.returncode == 0, f"{body}\n{output}"

    def start(self, name: str, body: str, extra: str = "") -> None:
        script = f"set -a; . {self.env_file}; set +a\n{extra}{body}\n"
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, process))

    def stop(self) -> dict[str, int | None]:
        for _name, process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        codes = {}
        for name, process in self.processes:
            try:
                codes[name] = process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                codes[name] = None
        return codes

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


def _wait_healthy(port: int, stack: Stack, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in stack.processes:
            assert process.poll() is None, f"{name} exited early:\n{stack.log(name)[-3000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"web on {port} never became healthy:\n{stack.log('web-a')[-3000:]}")


def _wait_for(predicate: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of the smoke's own, stopped at the end; the shared one is never touched."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.mark.worker
@pytest.mark.skipif(
    not ON_POSTGRES, reason="the guide deploys on PostgreSQL: set DATABASE_URL=postgres://..."
)
def test_the_guide_deploys_a_stack_that_pays_refunds_and_restores(tmp_path, private_redis):
    from tests.deploy.fake_stripe_server import FakeStripeServer

    suffix = uuid.uuid4().hex[:8]
    database, restored = f"deploy_smoke_{suffix}", f"deploy_restore_{suffix}"
    _recreate_database(database)
    _recreate_database(restored)
    secret = "sk_test_smoke_" + uuid.uuid4().hex
    web_a, web_b = _free_port(), _free_port()
    ws_a, ws_b = _free_port(), _free_port()
    outbox = tmp_path / "outbox"
    with FakeStripeServer(secret_key=secret) as stripe_api:
        values = {
            **env_example(),
            "SECRET_KEY": uuid.uuid4().hex * 2,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": "https://127.0.0.1",
            "DATABASE_URL": _pg_url(database),
            "DB_POOL_MAX": "4",
            "REDIS_URL": private_redis,
            "STRIPE_SECRET_KEY": secret,
            "STRIPE_PUBLISHABLE_KEY": "pk_test_smoke",
            "STRIPE_WEBHOOK_SECRET": "whsec_smoke",
            "STRIPE_API_BASE": stripe_api.url,
            # Mail lands in files the test counts, instead of an SMTP server.
            "EMAIL_BACKEND": "config.mail.OutboxEmailBackend",
            "METRICS_TOKEN": uuid.uuid4().hex,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
            "VAR_DIR": str(tmp_path / "var"),
            "WEB_PORT": str(web_a),
            "WEB_WORKERS": "2",
            "WS_PORT": str(ws_a),
            "WS_WORKERS": "1",
            "FIRST_ADMIN_EMAIL": "ops@example.com",
            "FIRST_ADMIN_PASSWORD": "smoke-" + uuid.uuid4().hex,
            "BACKUP_FILE": str(tmp_path / "checkout.dump"),
            "RESTORE_DATABASE_URL": _pg_url(restored),
        }
        env_file = tmp_path / "checkout.env"
        # Quoted as a shell reads them (values such as "Shop <shop@example.com>").
        env_file.write_text(
            "".join(f"{k}='{v}'\n" for k, v in values.items()) + f"OUTBOX_DIR='{outbox}'\n"
        )
        logs = tmp_path / "logs"
        logs.mkdir()
        stack = Stack(
            env_file=env_file,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"},
            logs=logs,
            processes=[],
        )
        try:
            journey: dict[str, Any] = {}
            for block in guide_blocks():
                if block.body == f"set -a; . {ENV_FILE_IN_GUIDE}; set +a":
                    continue  # every block runs after it already
                if block.section.startswith("10.") and not journey:
                    journey = _pay_and_refund(stack, values, web_a, web_b, ws_a, stripe_api, outbox)
                if block.process == "web":
                    stack.start("web-a", block.body)
                    stack.start("web-b", block.body, extra=f"WEB_PORT={web_b}\n")
                elif block.process == "websocket":
                    stack.start("websocket-a", block.body)
                    stack.start("websocket-b", block.body, extra=f"WS_PORT={ws_b}\n")
                elif block.process == "worker":
                    stack.start("worker-a", block.body)
                    stack.start("worker-b", block.body)
                elif block.process:
                    stack.start(block.process, block.body)
                else:
                    if block.section.startswith("8."):
                        _wait_healthy(web_a, stack)
                        _wait_healthy(web_b, stack)
                    stack.run(block.body)
            assert journey, "the guide's backup section never came"
        finally:
            codes = stack.stop()
        # Every process stopped cleanly on SIGTERM, as the guide promises: gunicorn's master
        # stops its workers gracefully, then exits 0; a single uvicorn process shuts down
        # gracefully ("Finished server process", below), then re-raises the SIGTERM it caught,
        # which systemd counts as a clean stop.
        assert codes == {
            "web-a": 0,
            "web-b": 0,
            "websocket-a": -signal.SIGTERM,
            "websocket-b": -signal.SIGTERM,
            "worker-a": 0,
            "worker-b": 0,
            "beat": 0,
        }
        for web in ("web-a", "web-b"):
            assert "Shutting down: Master" in stack.log(web)
        for websocket in ("websocket-a", "websocket-b"):
            assert "Finished server process" in stack.log(websocket)
        for name, _process in stack.processes:
            assert "Traceback" not in stack.log(name), stack.log(name)[-3000:]
        assert stripe_api.unauthorized == 0
    # The restored copy holds the paid, refunded order.
    import psycopg

    with psycopg.connect(_pg_url(restored)) as conn:
        row = conn.execute(
            "SELECT o.status, a.status, a.refunded_amount, host(a.client_ip) FROM checkout_order o"
            " JOIN payments_paymentattempt a ON a.order_id = o.id WHERE o.number = %s",
            [journey["number"]],
        ).fetchone()
    # The payment was made by the customer's address, not the proxy's: every per-client limit
    # (lockout, rate limits, risk rules) counts the customer.
    assert row == ("refunded", "refunded", 1200, CLIENT_IP)
    _drop_database(database)
    _drop_database(restored)


def _pay_and_refund(
    stack: Stack,
    values: dict[str, str],
    web_a: int,
    web_b: int,
    ws_a: int,
    stripe_api: Any,
    outbox: Path,
) -> dict[str, Any]:
    guest, other_machine = Client(web_a), Client(web_b)
    # Neither web process names the software serving it (config.gunicorn empties gunicorn's).
    for port in (web_a, web_b):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            # gunicorn still writes the header line, empty; uvicorn would leave it out.
            assert response.headers.get_all("Server") == [""]
    # A guest orders and pays by card on machine A...
    status, body = guest.call(
        "POST",
        "/api/v1/orders/",
        body={"items": [{"sku": "mug-classic", "quantity": 1}], "email": "guest@example.com"},
    )
    assert status == 201, body
    order = json.loads(body)
    assert order["total"] == {"amount": 1200, "currency": "USD"}
    secret = {"X-Client-Secret": order["client_secret"]}
    key = f"smoke-{uuid.uuid4().hex}"
    pay = {"method": "card", "payment_method": "pm_card_visa"}
    status, body = guest.call(
        "POST",
        f"/api/v1/orders/{order['number']}/payments/",
        body=pay,
        headers={**secret, "Idempotency-Key": key},
    )
    assert status == 201, body
    attempt = json.loads(body)
    assert attempt["status"] == "succeeded"
    # ...pressing again replays (200, the same payment), and Stripe saw one PaymentIntent.
    status, body = guest.call(
        "POST",
        f"/api/v1/orders/{order['number']}/payments/",
        body=pay,
        headers={**secret, "Idempotency-Key": key},
    )
    assert (status, json.loads(body)["id"]) == (200, attempt["id"])
    assert stripe_api.fake.creates == 1
    # Machine B knows: the state is in the shared database, not in a process.
    status, body = other_machine.call("GET", f"/api/v1/orders/{order['number']}/", headers=secret)
    assert (status, json.loads(body)["status"]) == (200, "paid")
    # A worker sent the receipt (the outbox, delivered through Redis to one of two workers).
    _wait_for(lambda: len(list(outbox.glob("*.eml"))) >= 1, "the receipt email")
    # The first admin signs in on machine B and refunds once; the key makes a retry a replay.
    admin = Client(web_b)
    admin.call("GET", "/admin/login/")
    status, _body = admin.call(
        "POST",
        "/admin/login/?next=/admin/",
        form={
            "username": values["FIRST_ADMIN_EMAIL"],
            "password": values["FIRST_ADMIN_PASSWORD"],
            "csrfmiddlewaretoken": admin.cookies["csrftoken"],
        },
    )
    assert status == 302, _body
    refund_key = f"smoke-refund-{uuid.uuid4().hex}"
    for expected in (201, 200):
        status, body = admin.call(
            "POST",
            f"/api/v1/payments/{attempt['id']}/refunds/",
            body={"amount": 1200, "reason": "deploy smoke"},
            headers={"X-CSRFToken": admin.cookies["csrftoken"], "Idempotency-Key": refund_key},
        )
        assert status == expected, body
        assert json.loads(body)["status"] == "succeeded"
    assert len(stripe_api.fake.refunds) == 1
    # The guest got exactly one receipt and one refund notice, whichever worker sent them.
    _wait_for(lambda: len(list(outbox.glob("*.eml"))) >= 2, "the refund email")
    time.sleep(2)  # a duplicate would land now
    subjects = sorted(
        message_from_bytes(path.read_bytes())["Subject"] for path in outbox.glob("*.eml")
    )
    assert len(subjects) == 2, subjects
    # Machine A's websocket process tells the admin, signed in on machine B, the order's state.
    state = asyncio.run(_order_state_over_websocket(ws_a, order["number"], admin))
    assert state == {"order": order["number"], "status": "refunded", "attempt": "refunded"}
    return {"number": order["number"], "attempt": attempt["id"]}


async def _order_state_over_websocket(port: int, number: str, client: Client) -> Any:
    import websockets

    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/orders/{number}/",
        additional_headers={"Cookie": cookies, "Origin": "https://127.0.0.1"},
        open_timeout=10,
    ) as socket_:
        return json.loads(await asyncio.wait_for(socket_.recv(), timeout=10))
