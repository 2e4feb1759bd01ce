"""Faults caused for real: the Celery broker (a private redis-server) stopped while customers
pay, and a worker SIGKILLed in the middle of sending. Every customer still lands on the paid
order page, and every receipt arrives exactly once after recovery."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from checkout.models import Order, OrderStatus
from config.celery import app as celery_app
from outbox.models import Message
from outbox.services import outbox_sweep
from tests.checkout.helpers import checkout_form, fill_cart, pay
from tests.conftest import ON_POSTGRES, ON_REDIS, test_database_url

ROOT = Path(__file__).resolve().parent.parent.parent
BROKER_PORT = 6391

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        not (ON_POSTGRES and ON_REDIS and shutil.which("redis-server")),
        reason="needs real workers on a private redis-server and PostgreSQL: set "
        "DATABASE_URL=postgres://... and REDIS_URL=redis://..., and install redis-server",
    ),
]


class Broker:
    """A redis-server of our own to stop and start; the shared one is never touched."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def broker():
    server = Broker(BROKER_PORT)
    server.start()
    previous = (
        celery_app.conf.broker_url,
        celery_app.conf.task_default_queue,
        celery_app.conf.task_always_eager,
    )
    queue = f"outbox-{uuid.uuid4().hex[:8]}"
    celery_app.conf.broker_url = server.url
    celery_app.conf.task_default_queue = queue
    celery_app.conf.task_always_eager = False
    _forget_connections()
    try:
        yield server, queue
    finally:
        server.stop()
        (
            celery_app.conf.broker_url,
            celery_app.conf.task_default_queue,
            celery_app.conf.task_always_eager,
        ) = previous
        _forget_connections()


def _forget_connections() -> None:
    """The publisher pool was built for the previous broker URL."""
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


class Worker:
    def __init__(self, tmp_path: Path, broker: Broker, queue: str, **env: str) -> None:
        self.outbox = tmp_path / "worker-outbox"
        self.env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": broker.url,
            "CELERY_QUEUE": queue,
            "OUTBOX_DIR": str(self.outbox),
            # Fast faults: a held message comes back after 3 s, the sweep takes rows at once.
            "CELERY_VISIBILITY_TIMEOUT": "3",
            "OUTBOX_HANDOFF_GRACE_SECONDS": "0",
            **env,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self, sig: int = signal.SIGTERM) -> str:
        self.process.send_signal(sig)
        try:
            output, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return output or ""

    def emails(self) -> list[str]:
        return [p.read_text() for p in sorted(self.outbox.glob("*.eml"))]


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _receipts_per_order(emails: list[str], numbers: list[str]) -> dict[str, int]:
    return {n: sum(1 for e in emails if n in e and "receipt" in e.lower()) for n in numbers}


def _press_pay(shop_email: str) -> tuple[int, str, str]:
    """One customer: cart, checkout, Pay. Returns the status code, where it went, the order."""
    client = Client()
    fill_cart(client, "mug")
    tokens = checkout_form(client)
    response = pay(client, tokens, email=shop_email)
    order = Order.objects.filter(email=shop_email).latest("pk")
    return response.status_code, response.get("Location", ""), order.number


def test_broker_down_during_pay_no_error_page_and_every_receipt_once(
    shop, transactional_db, broker, tmp_path
):
    server, queue = broker
    worker = Worker(tmp_path, server, queue)
    try:
        server.stop()  # the broker dies while customers are paying
        outcomes: Counter[str] = Counter()
        numbers: list[str] = []
        slowest = 0.0
        for n in range(5):
            started = time.monotonic()
            status, location, number = _press_pay(f"buyer{n}@example.com")
            slowest = max(slowest, time.monotonic() - started)
            order_page = reverse("checkout:order_status", args=[number])
            outcomes[
                f"{status} {'order page' if location.startswith(order_page) else location}"
            ] += 1
            numbers.append(number)
        # What every customer was told: the paid order page, never an error.
        assert outcomes == Counter({"302 order page": 5})
        assert slowest < 5, f"a Pay press took {slowest:.1f} s with the broker down"
        orders = Order.objects.filter(number__in=numbers)
        assert sorted(o.status for o in orders) == [OrderStatus.PAID] * 5
        pending = Message.objects.filter(kind="checkout.receipt", sent_at__isnull=True)
        assert pending.count() == 5  # nothing lost: each receipt waits in the outbox

        server.start()  # the broker is back; the next beat tick sends the sweep
        recovered = time.monotonic()
        celery_app.send_task("outbox.tasks.sweep", queue=queue)
        assert _wait_for(lambda: len(worker.emails()) >= 5, 45), "receipts did not arrive"
        took = time.monotonic() - recovered
        # Another sweep, and a late duplicate hand-off, send nothing more.
        celery_app.send_task("outbox.tasks.sweep", queue=queue)
        assert outbox_sweep() == 0
        time.sleep(2)
        assert _receipts_per_order(worker.emails(), numbers) == {n: 1 for n in numbers}
        assert len(worker.emails()) == 5
        assert Message.objects.filter(kind="checkout.receipt", sent_at__isnull=True).count() == 0
        print(
            f"broker down: 5 presses, 0 errors, slowest {slowest:.2f} s; recovered in {took:.1f} s"
        )
    finally:
        print(worker.stop()[-3000:])
        connections.close_all()


@pytest.mark.parametrize(
    "visibility",
    [
        # The killed worker's message comes back after 3 s too: it must find the receipt sent.
        pytest.param("3", id="redelivered-too"),
        # The production timeout: only the sweep can deliver the killed worker's message.
        pytest.param("300", id="sweep-only"),
    ],
)
def test_worker_killed_mid_send_every_receipt_once_after_a_new_worker_sweeps(
    shop, transactional_db, broker, tmp_path, visibility
):
    server, queue = broker
    marker = tmp_path / "sending"
    slow = Worker(
        tmp_path,
        server,
        queue,
        EMAIL_BACKEND="tests.outbox.mailers.SlowOutboxBackend",
        SLOW_MAIL_MARKER=str(marker),
        SLOW_MAIL_SECONDS="120",
        CELERY_VISIBILITY_TIMEOUT=visibility,
    )
    numbers: list[str] = []
    try:
        for n in range(3):
            status, _location, number = _press_pay(f"killed{n}@example.com")
            assert status == 302
            numbers.append(number)
        assert _wait_for(marker.exists, 45), "the worker never started sending"
        killed = time.monotonic()
        slow.stop(signal.SIGKILL)  # mid-send: nothing sent, nothing committed
        assert slow.emails() == []
        assert Message.objects.filter(sent_at__isnull=True).count() >= 3

        fresh = Worker(tmp_path, server, queue, CELERY_VISIBILITY_TIMEOUT=visibility)
        try:
            celery_app.send_task("outbox.tasks.sweep", queue=queue)
            assert _wait_for(lambda: len(fresh.emails()) >= 3, 45), "receipts did not arrive"
            took = time.monotonic() - killed
            time.sleep(5)  # past the short visibility timeout: any redelivery has happened
            celery_app.send_task("outbox.tasks.sweep", queue=queue)
            time.sleep(1)
            assert _receipts_per_order(fresh.emails(), numbers) == {n: 1 for n in numbers}
            assert len(fresh.emails()) == 3
            print(f"worker killed ({visibility} s): 3 receipts, each once, {took:.1f} s after")
        finally:
            print(fresh.stop()[-3000:])
    finally:
        if slow.process.poll() is None:
            slow.stop(signal.SIGKILL)
        connections.close_all()
