"""A real Celery worker process on Redis sends the receipt: what eager mode cannot prove
(serialisation, on_commit, the worker reading what the web process committed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from config.celery import app as celery_app
from payments import services
from tests.conftest import ON_POSTGRES, ON_REDIS, test_database_url
from tests.factories import OrderFactory, PaymentMethodFactory

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        not (ON_POSTGRES and ON_REDIS),
        reason="needs a real worker on shared services: set DATABASE_URL=postgres://... and "
        "REDIS_URL=redis://...",
    ),
]


@pytest.fixture
def worker(tmp_path, transactional_db):
    """Start `celery worker` against the test database on a queue of its own."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    outbox = tmp_path / "worker-outbox"
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_QUEUE": queue,
        "OUTBOX_DIR": str(outbox),
    }
    process = subprocess.Popen(
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
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    celery_app.conf.task_always_eager = False
    try:
        yield outbox
    finally:
        celery_app.conf.task_default_queue = previous
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        print(output[-3000:])


def test_real_worker_sends_the_receipt_after_commit(worker):
    method = PaymentMethodFactory(code="card")
    order = OrderFactory(email="receipt@example.com")
    attempt = services.attempt_pay(
        order=order,
        method=method,
        idempotency_key="worker-key",
        payment_method="pm_card_visa",
    )
    assert attempt.status == "succeeded"
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        order.refresh_from_db()
        if order.receipt_sent_at is not None:
            break
        time.sleep(0.25)
    connection.close()
    assert order.receipt_sent_at is not None, "the worker did not send the receipt within 45 s"
    files = list(worker.glob("*.eml"))
    assert len(files) == 1
    content = files[0].read_text()
    assert "receipt@example.com" in content and order.number in content
