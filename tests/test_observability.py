"""Observability a shop can act on: one request id from the request into its tasks and logs,
JSON log lines, Sentry only when configured, and /metrics counted as things happen."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from unittest import mock

import pytest
import stripe
from asgiref.sync import sync_to_async
from celery import signals
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from config.celery import app as celery_app
from config.logs import JsonFormatter, RequestIdFilter
from config.request_context import current_request_id, request_id_bound
from payments import services
from payments.models import AttemptStatus, PaymentAttempt
from payments.tasks import process_webhook_event
from tests.conftest import ON_POSTGRES, ON_REDIS, test_database_url
from tests.factories import OrderFactory, PaymentMethodFactory
from tests.payments.test_webhooks import event

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_test_secret"
NEW_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_log():
    """The root logger writes JSON lines here, through the same filter and formatter as the
    console handler in production; returns the parsed lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines() -> list[dict[str, str]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)


def signed(body: dict) -> dict[str, str]:
    raw = json.dumps(body)
    return {
        "data": raw,
        "content_type": "application/json",
        "HTTP_STRIPE_SIGNATURE": stripe.WebhookSignature.generate_signature_header(raw, SECRET),
    }


@pytest.fixture
def waiting(settings, shop):
    """An attempt our call never heard back about (`unknown`), carried by Stripe."""
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    # Only the webhook below may settle it: the simulator's own settling task is not queued.
    with mock.patch("payments.gateways.simulator._schedule_settle"):
        attempt = services.attempt_pay(
            order=OrderFactory(),
            method=shop["methods"]["card"],
            idempotency_key="obs",
            payment_method="pm_sim_timeout_then_succeeded",
        )
    PaymentAttempt.objects.filter(pk=attempt.pk).update(provider="stripe")
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.UNKNOWN
    return attempt


# --- The request id header ------------------------------------------------------------------


@pytest.mark.parametrize("given", ["abc-DEF_123", "x" * 64, "0f3c9a"])
def test_a_sane_request_id_is_kept_and_echoed(client, given):
    response = client.get("/metrics", HTTP_X_REQUEST_ID=given)
    assert response["X-Request-ID"] == given


def test_a_request_without_an_id_gets_a_new_one_each_time(client):
    first = client.get("/metrics")["X-Request-ID"]
    second = client.get("/metrics")["X-Request-ID"]
    assert NEW_ID.fullmatch(first) and NEW_ID.fullmatch(second)
    assert first != second


@pytest.mark.parametrize(
    "bad",
    ["", "x" * 65, "has space", "<script>alert(1)</script>", "line\nbreak", "ok;drop", "é"],
)
def test_a_bad_request_id_is_replaced_not_echoed(client, bad):
    answered = client.get("/metrics", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
    assert answered != bad
    assert NEW_ID.fullmatch(answered)


def test_the_id_is_bound_only_for_the_request(client):
    client.get("/metrics", HTTP_X_REQUEST_ID="only-inside")
    assert current_request_id() == ""


@pytest.mark.django_db
def test_a_log_line_during_a_request_carries_its_id(client, json_log):
    response = client.post(
        "/payments/webhooks/stripe/",
        b"{}",
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE="t=1,v1=bad",
        HTTP_X_REQUEST_ID="req-sync-1",
    )
    assert response.status_code == 400 and response["X-Request-ID"] == "req-sync-1"
    [line] = [entry for entry in json_log() if entry["logger"] == "payments.views"]
    assert line["request_id"] == "req-sync-1"
    assert line["level"] == "WARNING"
    assert line["message"].startswith("webhook from stripe rejected")
    assert set(line) == {"time", "level", "logger", "message", "request_id"}


@pytest.mark.django_db(transaction=True)
def test_under_asgi_the_id_follows_into_the_sync_view(async_client, json_log):
    """Through Django's ASGI handler (as under daphne): the id reaches the view's log line."""

    async def scenario():
        rejected = await async_client.post(
            "/payments/webhooks/stripe/",
            b"{}",
            content_type="application/json",
            headers={"Stripe-Signature": "t=1,v1=bad", "X-Request-ID": "req-async-1"},
        )
        fresh = await async_client.get("/metrics")
        # Views ran in asgiref's thread: close what they opened there, or PostgreSQL's test
        # database cannot be dropped at the end.
        await sync_to_async(connections.close_all)()
        return rejected, fresh

    response, fresh = asyncio.run(scenario())
    assert response.status_code == 400 and response["X-Request-ID"] == "req-async-1"
    [line] = [entry for entry in json_log() if entry["logger"] == "payments.views"]
    assert line["request_id"] == "req-async-1"
    assert NEW_ID.fullmatch(fresh["X-Request-ID"])


def test_the_middleware_binds_the_id_when_awaited_and_when_called():
    """Django picks the mode from the middleware after it: both must bind and answer the id."""
    from asgiref.sync import iscoroutinefunction
    from django.http import HttpResponse
    from django.test import RequestFactory

    from config.middleware import RequestIdMiddleware

    async def async_view(request):
        await asyncio.sleep(0)
        return HttpResponse(current_request_id())

    def sync_view(request):
        return HttpResponse(current_request_id())

    awaited = RequestIdMiddleware(async_view)
    assert iscoroutinefunction(awaited)
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-awaited")
    response = asyncio.run(awaited(request))
    assert (response.content, response["X-Request-ID"]) == (b"req-awaited", "req-awaited")
    assert request.request_id == "req-awaited"
    called = RequestIdMiddleware(sync_view)
    assert not iscoroutinefunction(called)
    response = called(RequestFactory().get("/", HTTP_X_REQUEST_ID="req-called"))
    assert (response.content, response["X-Request-ID"]) == (b"req-called", "req-called")
    assert current_request_id() == ""


# --- Into Celery tasks ----------------------------------------------------------------------


@pytest.fixture
def task_runs():
    """(task name, request id seen inside the task) for every task run."""
    seen: list[tuple[str, str]] = []

    def inside(sender=None, **_):
        seen.append((sender.name, current_request_id()))

    # Connected after config.celery's receiver, so it sees what that one bound.
    signals.task_prerun.connect(inside, weak=False)
    yield seen
    signals.task_prerun.disconnect(inside)


@pytest.mark.django_db(transaction=True)
def test_a_task_queued_by_a_request_runs_and_logs_under_its_id(
    client, waiting, json_log, task_runs
):
    """A webhook request writes its processing to the outbox, handed to a task after commit; the
    task's log lines (the webhook's outcome, the attempt's move) carry the request's id."""
    body = event("pi_obs", "succeeded", key=f"attempt-{waiting.public_id}")
    response = client.post(
        "/payments/webhooks/stripe/", **signed(body), HTTP_X_REQUEST_ID="req-task-1"
    )
    assert response.status_code == 200
    waiting.refresh_from_db()
    assert waiting.status == AttemptStatus.SUCCEEDED
    assert ("outbox.tasks.deliver", "req-task-1") in task_runs
    lines = json_log()
    [processed] = [e for e in lines if e["logger"] == "payments.services.webhooks"]
    assert processed["request_id"] == "req-task-1"
    assert processed["message"].startswith("webhook stripe evt_pi_obs_succeeded")
    [moved] = [e for e in lines if "unknown -> succeeded" in e["message"]]
    assert moved["request_id"] == "req-task-1"
    assert current_request_id() == ""


@pytest.fixture
def publishing():
    """Tasks are sent to a broker (a mock producer) instead of run in-process."""
    celery_app.conf.task_always_eager = False
    producer = mock.MagicMock()
    yield producer
    celery_app.conf.task_always_eager = True


def test_a_published_task_carries_the_request_id_in_its_headers(publishing):
    with request_id_bound("req-publish-1"):
        process_webhook_event.apply_async((123,), producer=publishing)
    headers = publishing.publish.call_args.kwargs["headers"]
    assert headers["request_id"] == "req-publish-1"
    assert headers["task"] == "payments.tasks.process_webhook_event"


def test_a_task_sent_outside_a_request_carries_no_request_id(publishing):
    process_webhook_event.apply_async((123,), producer=publishing)
    assert "request_id" not in publishing.publish.call_args.kwargs["headers"]


@pytest.mark.django_db
def test_a_worker_runs_the_task_under_the_id_from_its_headers(
    waiting, publishing, json_log, task_runs
):
    """What a worker does with the message: a fresh context (nothing bound), the headers as
    sent, the id bound for the run and released after."""
    from payments.models import WebhookEvent

    stored = WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_worker",
        type="payment_intent.succeeded",
        payload=event("pi_w", "succeeded", key=f"attempt-{waiting.public_id}"),
    )
    with request_id_bound("req-worker-1"):
        process_webhook_event.apply_async((stored.pk,), producer=publishing)
    headers = publishing.publish.call_args.kwargs["headers"]

    def run_as_worker() -> str:
        process_webhook_event.apply((stored.pk,), headers=headers)
        return current_request_id()

    after = contextvars.Context().run(run_as_worker)
    assert after == ""
    assert task_runs == [("payments.tasks.process_webhook_event", "req-worker-1")]
    [moved] = [e for e in json_log() if "unknown -> succeeded" in e["message"]]
    assert moved["request_id"] == "req-worker-1"


def test_a_task_nobody_queued_from_a_request_gets_its_own_id(task_runs):
    """Beat's tasks: a fresh id per run, so one run's lines still group, then nothing bound."""
    from celery import shared_task

    @shared_task(name="tests.observability.noop")
    def noop() -> str:
        return current_request_id()

    # .result, not .get(): an eager result holds its value, and .get() refuses to run when an
    # earlier test left Celery's "inside a task" flag set in this process.
    first = contextvars.Context().run(lambda: noop.apply().result)
    second = contextvars.Context().run(lambda: noop.apply().result)
    assert NEW_ID.fullmatch(first) and NEW_ID.fullmatch(second) and first != second
    assert current_request_id() == ""


# --- Log format ------------------------------------------------------------------------------


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "LOG_FORMAT", "SENTRY_DSN", "PROMETHEUS_MULTIPROC_DIR"}
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


LOG_SOMETHING = """
    import logging
    import django
    django.setup()
    from config.request_context import request_id_bound
    log = logging.getLogger("payments.demo")
    with request_id_bound("req-log-1"):
        log.warning("charged %s", "twice?")
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("it broke")
    log.info("outside")
"""


def test_production_logs_are_json_lines_with_the_request_id(tmp_path):
    result = run_python(
        LOG_SOMETHING,
        DEBUG="0",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="shop.example",
        SITE_URL="https://shop.example",
        VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(e["level"], e["logger"], e["message"], e["request_id"]) for e in lines] == [
        ("WARNING", "payments.demo", "charged twice?", "req-log-1"),
        ("ERROR", "payments.demo", "it broke", "req-log-1"),
        ("INFO", "payments.demo", "outside", ""),
    ]
    assert "ZeroDivisionError: division by zero" in lines[1]["exception"]
    assert "exception" not in lines[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", lines[0]["time"])


def test_development_logs_are_text_with_the_request_id(tmp_path):
    result = run_python(LOG_SOMETHING, VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    first, *_ = result.stderr.splitlines()
    assert first.endswith("WARNING payments.demo [req-log-1] charged twice?")
    assert "INFO payments.demo [-] outside" in result.stderr


def test_log_format_can_be_chosen_and_is_checked(tmp_path):
    json_in_dev = run_python(LOG_SOMETHING, LOG_FORMAT="json", VAR_DIR=str(tmp_path))
    assert json.loads(json_in_dev.stderr.splitlines()[0])["request_id"] == "req-log-1"
    wrong = run_python("import django; django.setup()", LOG_FORMAT="xml", VAR_DIR=str(tmp_path))
    assert wrong.returncode != 0 and "LOG_FORMAT must be json or text" in wrong.stderr


# --- Sentry ----------------------------------------------------------------------------------


def test_without_a_dsn_sentry_is_not_started(settings, monkeypatch):
    import sentry_sdk

    from config.sentry import sentry_init

    assert settings.SENTRY_DSN == ""
    assert not sentry_sdk.get_client().is_active()
    started = mock.Mock()
    monkeypatch.setattr(sentry_sdk, "init", started)
    assert sentry_init(dsn="", environment="x", release="", traces_sample_rate=0.0) is False
    started.assert_not_called()


def test_with_a_dsn_sentry_starts_with_django_and_celery_and_tags_the_request_id():
    """In a process of its own (the SDK patches Django for good once started), with a
    transport that keeps envelopes instead of sending them: no network."""
    result = run_python(
        """
        import json
        import django
        django.setup()
        import sentry_sdk
        from sentry_sdk.transport import Transport
        from config.request_context import request_id_bound
        from config.sentry import sentry_init

        sent = []

        class Keep(Transport):
            def capture_envelope(self, envelope):
                sent.append(envelope)

        assert sentry_init(
            dsn="https://public@sentry.invalid/1", environment="staging", release="shop@7",
            traces_sample_rate=0.0, transport=Keep(),
        )
        with request_id_bound("req-sentry-1"):
            try:
                1 / 0
            except ZeroDivisionError:
                sentry_sdk.capture_exception()
        sentry_sdk.flush()
        client = sentry_sdk.get_client()
        [item] = [i for e in sent for i in e.items if i.type == "event"]
        payload = item.payload.json
        print(json.dumps({
            "integrations": sorted(k for k in client.integrations if k in {"django", "celery"}),
            "pii": client.options["send_default_pii"],
            "rate": client.options["traces_sample_rate"],
            "tags": payload.get("tags"),
            "environment": payload.get("environment"),
            "release": payload.get("release"),
        }))
        """
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report == {
        "integrations": ["celery", "django"],
        "pii": False,
        "rate": 0.0,
        "tags": {"request_id": "req-sentry-1"},
        "environment": "staging",
        "release": "shop@7",
    }


def test_the_sentry_settings_are_read_and_checked(tmp_path):
    code = """
        import django
        django.setup()
        from django.conf import settings
        print(settings.SENTRY_ENVIRONMENT, settings.SENTRY_TRACES_SAMPLE_RATE)
    """
    ok = run_python(code, SENTRY_TRACES_SAMPLE_RATE="0.25", VAR_DIR=str(tmp_path))
    assert ok.stdout.split() == ["development", "0.25"]
    wrong = run_python(code, SENTRY_TRACES_SAMPLE_RATE="2", VAR_DIR=str(tmp_path))
    assert "SENTRY_TRACES_SAMPLE_RATE must be between 0 and 1" in wrong.stderr


# --- /metrics --------------------------------------------------------------------------------


def sample(body: str, name: str, **labels: str) -> float:
    """The value of one series, 0 when it has not been counted yet in this process."""
    for family in text_string_to_metric_families(body):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return 0.0


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = "scrape-me"

    def read() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
        assert response.status_code == 200
        return response.content.decode()

    return read


@pytest.mark.django_db
def test_each_settled_attempt_moves_its_counter_by_exactly_one(
    shop, scrape, django_capture_on_commit_callbacks
):
    card, alipay = shop["methods"]["card"], shop["methods"]["alipay"]
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        for i, (method, token) in enumerate(
            [
                (card, "pm_card_visa"),
                (card, "pm_card_visa_chargeDeclined"),
                (card, "pm_card_visa"),
                # unknown (not counted), then its settling task's answer (counted once)
                (card, "pm_sim_timeout_then_succeeded"),
                (alipay, "pm_card_visa"),  # requires_action: waits for the customer
            ]
        ):
            services.attempt_pay(
                order=OrderFactory(), method=method, idempotency_key=f"c{i}", payment_method=token
            )
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    attempts = "checkout_payment_attempts_total"
    assert moved(attempts, method="card", status="succeeded") == 3
    assert moved(attempts, method="card", status="failed") == 1
    assert moved(attempts, method="card", status="unknown") == 0
    assert moved(attempts, method="card", status="canceled") == 0
    assert moved(attempts, method="alipay", status="succeeded") == 0
    assert moved(attempts, method="alipay", status="requires_action") == 0
    seconds = "checkout_payment_confirmation_seconds"
    assert moved(f"{seconds}_count", method="card") == 4
    assert moved(f"{seconds}_bucket", method="card", le="1.0") == 4
    assert moved(f"{seconds}_bucket", method="card", le="+Inf") == 4
    assert moved(f"{seconds}_count", method="alipay") == 0


@pytest.mark.django_db
def test_a_settlement_rolled_back_is_not_counted(shop, scrape, django_capture_on_commit_callbacks):
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            services.attempt_pay(
                order=OrderFactory(),
                method=shop["methods"]["card"],
                idempotency_key="rolled-back",
                payment_method="pm_card_visa",
            )
            raise RuntimeError("the request failed after the answer")
    after = scrape()
    name, labels = "checkout_payment_attempts_total", {"method": "card", "status": "succeeded"}
    assert sample(after, name, **labels) - sample(before, name, **labels) == 0


@pytest.mark.django_db(transaction=True)
def test_webhook_outcomes_and_refunds_are_counted_once(client, waiting, scrape):
    before = scrape()
    body = event("pi_count", "succeeded", key=f"attempt-{waiting.public_id}")
    assert client.post("/payments/webhooks/stripe/", **signed(body)).status_code == 200
    assert client.post("/payments/webhooks/stripe/", **signed(body)).status_code == 200  # replay
    assert (
        client.post(
            "/payments/webhooks/stripe/",
            b"{}",
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE="t=1,v1=bad",
        ).status_code
        == 400
    )
    paid = services.attempt_pay(
        order=OrderFactory(),
        method=waiting.method,
        idempotency_key="paid-for-refund",
        payment_method="pm_card_visa",
    )
    services.refund_create(
        attempt=paid, amount=500, destination="original", reason="asked", actor="staff:carol"
    )
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    events = "checkout_webhook_events_total"
    assert moved(events, provider="stripe", outcome="received") == 1
    assert moved(events, provider="stripe", outcome="duplicate") == 1
    assert moved(events, provider="stripe", outcome="rejected") == 1
    assert moved(events, provider="stripe", outcome="processed") == 1
    assert moved(events, provider="stripe", outcome="ignored") == 0
    assert moved("checkout_refunds_total", status="succeeded") == 1
    assert moved("checkout_refunds_total", status="failed") == 0
    # A refund moves the paid attempt on (partially_refunded): not a new final answer.
    assert moved("checkout_payment_attempts_total", method="card", status="partially_refunded") == 0
    # Two final answers (the webhook's, the paid one's); the refund and the replay add none.
    assert moved("checkout_payment_attempts_total", method="card", status="succeeded") == 2


@pytest.mark.django_db
def test_the_outbox_can_count_its_deliveries(scrape):
    from config.metrics import record_outbox

    before = scrape()
    record_outbox("sent")
    record_outbox("sent")
    record_outbox("given_up")
    after = scrape()
    name = "checkout_outbox_deliveries_total"
    assert sample(after, name, outcome="sent") - sample(before, name, outcome="sent") == 2
    assert sample(after, name, outcome="given_up") - sample(before, name, outcome="given_up") == 1


@pytest.mark.django_db
def test_a_scrape_never_reads_the_attempts_table(shop, scrape):
    for i in range(3):
        services.attempt_pay(
            order=OrderFactory(),
            method=shop["methods"]["card"],
            idempotency_key=f"q{i}",
            payment_method="pm_card_visa",
        )
    with CaptureQueriesContext(connection) as queries:
        scrape()
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert "payments_paymentattempt" not in tables
    # Methods with their health (one query), routes with their circuits (one query) and the
    # oldest unprocessed webhook (one query).
    assert len(queries.captured_queries) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "mallory", "wrong token", "no token configured"])
def test_strangers_cannot_read_metrics(client, settings, mallory, who):
    settings.METRICS_TOKEN = "" if who == "no token configured" else "scrape-me"
    headers = {}
    if who == "mallory":
        client.force_login(mallory)
    if who == "wrong token":
        headers["HTTP_AUTHORIZATION"] = "Bearer not-it"
    if who == "no token configured":
        headers["HTTP_AUTHORIZATION"] = "Bearer "
    response = client.get("/metrics", **headers)
    assert response.status_code == 403
    assert b"checkout_" not in response.content


@pytest.mark.django_db
def test_staff_can_read_metrics(client, bob):
    client.force_login(bob)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"# TYPE checkout_payment_attempts_total counter" in response.content


def test_processes_sharing_a_multiprocess_folder_are_added_up(tmp_path):
    """Several web processes and workers: each counts into the shared folder, any scrape sums."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    count = "from config.metrics import record_outbox; record_outbox('sent')"
    for _ in range(2):
        assert run_python(count, PROMETHEUS_MULTIPROC_DIR=str(folder)).returncode == 0
    result = run_python(
        "from config.metrics import render_counters; print(render_counters().decode())",
        PROMETHEUS_MULTIPROC_DIR=str(folder),
    )
    assert result.returncode == 0, result.stderr
    assert sample(result.stdout, "checkout_outbox_deliveries_total", outcome="sent") == 2


# --- A real worker -------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.skipif(
    not (ON_POSTGRES and ON_REDIS),
    reason="needs a real worker on shared services: set DATABASE_URL=postgres://... and "
    "REDIS_URL=redis://...",
)
def test_a_real_worker_logs_the_task_under_the_request_id(tmp_path, transactional_db):
    """The whole way: the id goes into the message header on Redis, a separate worker process
    binds it and writes JSON lines carrying it (through Django's LOGGING, not Celery's)."""
    method = PaymentMethodFactory(code="card")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_QUEUE": queue,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "LOG_FORMAT": "json",
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo"]
            + ["--loglevel=INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    celery_app.conf.task_always_eager = False
    try:
        with request_id_bound("req-real-worker"):
            services.attempt_pay(
                order=OrderFactory(email="w@example.com"),
                method=method,
                idempotency_key="real-worker",
                payment_method="pm_card_visa",
            )
        deadline = time.monotonic() + 45
        found: list[dict[str, str]] = []
        while time.monotonic() < deadline and not found:
            time.sleep(0.25)
            for line in log.read_text().splitlines():
                entry = json.loads(line) if line.startswith("{") else {}
                # The receipt leaves through the outbox: its delivery task, run by the worker.
                if "outbox.tasks.deliver" in entry.get("message", "") and "succeeded" in (
                    entry.get("message", "")
                ):
                    found.append(entry)
        assert found, log.read_text()[-3000:]
        assert [(e["logger"], e["request_id"]) for e in found] == [
            ("celery.app.trace", "req-real-worker")
        ]
    finally:
        celery_app.conf.task_default_queue = previous
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        connection.close()
