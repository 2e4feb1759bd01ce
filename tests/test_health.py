from __future__ import annotations

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
