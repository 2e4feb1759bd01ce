from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from config import views

pytestmark = pytest.mark.django_db


def test_healthz_reports_each_service_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ok"
    assert {name for name, check in data["checks"].items() if check["ok"]} == {
        "database",
        "cache",
        "broker",
    }


@pytest.mark.parametrize("broken", ["database", "cache", "broker"])
def test_healthz_is_503_and_names_the_broken_service(client, monkeypatch, broken):
    def boom() -> None:
        raise ConnectionError("down")

    monkeypatch.setitem(views.CHECKS, broken, boom)
    response = client.get("/healthz")
    assert response.status_code == 503
    data = response.json()
    assert data["status"] == "unavailable"
    assert data["checks"][broken] == {
        "ok": False,
        "state": "down",
        "error": "ConnectionError",
        "reason": "cannot connect",
        "ms": data["checks"][broken]["ms"],
    }
    assert all(check["ok"] for name, check in data["checks"].items() if name != broken)


def test_healthz_broker_check_really_talks_to_the_broker(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_healthz_answers_in_time_when_two_services_hang_and_does_not_pile_up_probes(
    client, monkeypatch
):
    release = threading.Event()
    calls: Counter[str] = Counter()

    def hangs(name: str):
        def check() -> None:
            calls[name] += 1
            release.wait(30)  # a frozen server: no error, no answer

        return check

    monkeypatch.setitem(views.CHECKS, "database", hangs("database"))
    monkeypatch.setitem(views.CHECKS, "broker", hangs("broker"))
    try:
        started = time.monotonic()
        response = client.get("/healthz")
        # The requirement: a load balancer gives /healthz about 2 s.
        assert time.monotonic() - started < 2.0
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert {name: (c["state"], c["reason"]) for name, c in checks.items() if not c["ok"]} == {
            "database": ("down", "no answer within 1.5 s"),
            "broker": ("down", "no answer within 1.5 s"),
        }
        assert checks["cache"]["state"] == "ok"

        # Polled again while those probes still hang: reported down at once, no new thread.
        again = client.get("/healthz").json()["checks"]
        assert again["database"]["state"] == again["broker"]["state"] == "down"
        assert again["database"]["reason"].startswith("still waiting for the previous probe")
        assert calls == Counter({"database": 1, "broker": 1})
    finally:
        release.set()
    # Once the stuck probes return, the next poll probes again.
    deadline = time.monotonic() + 5
    while views._stuck and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get("/healthz").status_code == 200
    assert calls == Counter({"database": 2, "broker": 2})
