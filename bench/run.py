#!/usr/bin/env python
"""Measure our pages against a bare Django view in the same process and the same run.

Ratios, not seconds, are the result: they hold across machines. Runs on a throwaway SQLite
database under a temporary directory, through Django's test client (no sockets), so it measures
our code: middleware, queries, templates, the payments engine with the simulator.

    .venv/bin/python bench/run.py [--iterations 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="checkout-bench-")
# Never migrate or seed a configured database: the bench brings its own.
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Thousands of presses by one buyer from one address would (rightly) trip the velocity rule;
# the rule still runs its query on every press, it just never refuses here.
os.environ.setdefault("RISK_VELOCITY_REVIEW", "1000000")
os.environ.setdefault("RISK_VELOCITY_REFUSE", "1000000")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings, setup_test_environment  # noqa: E402


def timed(fn: Callable[[], None], iterations: int) -> list[float]:
    for _ in range(min(10, iterations)):  # warm caches and connections
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    setup_test_environment()
    call_command("migrate", verbosity=0)
    with override_settings(DEBUG=True):
        call_command("seed_demo", verbosity=0)

    client = Client()
    client.post("/cart/update/", {"sku": "mug-classic"})

    def get(path: str) -> Callable[[], None]:
        def run() -> None:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        return run

    def pay_submit() -> None:
        """One whole Pay press: a fresh cart, the checkout page, the POST, the receipt task."""
        buyer = Client()
        buyer.post("/cart/update/", {"sku": "mug-classic"})
        form = buyer.get("/checkout/").context["form"]
        response = buyer.post(
            "/checkout/",
            {
                "email": "bench@example.com",
                "full_name": "Bench",
                "address_line1": "1 Loop Road",
                "city": "Benchville",
                "country": "US",
                "method": "card",
                "payment_method": "pm_card_visa",
                "checkout_token": form.initial["checkout_token"],
                "idempotency_key": uuid.uuid4().hex,
            },
        )
        assert response.status_code == 302, response.status_code

    cases = {
        "bare Django view": get("/bench/bare/"),
        "product list": get("/"),
        "checkout page": get("/checkout/"),
        "healthz": get("/healthz"),
        "API products": get("/api/v1/products/"),
        "pay submit (cart+page+pay)": pay_submit,
        "support page with articles": get("/support/?code=insufficient_funds"),
        "help search": get("/support/help/?q=card+bank"),
    }
    with override_settings(ROOT_URLCONF="bench.urls", ALLOWED_HOSTS=["testserver"]):
        results = {name: timed(fn, args.iterations) for name, fn in cases.items()}

    base = statistics.median(results["bare Django view"])
    print(
        f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
        f"iterations: {args.iterations}"
    )
    print(f"{'case':<30}{'median ms':>10}{'p95 ms':>10}{'x bare':>9}{'per s':>9}")
    for name, samples in results.items():
        median = statistics.median(samples)
        p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
        print(
            f"{name:<30}{median * 1000:>10.2f}{p95 * 1000:>10.2f}"
            f"{median / base:>9.1f}{1 / median:>9.0f}"
        )


if __name__ == "__main__":
    main()
