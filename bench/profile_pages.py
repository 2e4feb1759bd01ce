#!/usr/bin/env python
"""Where a page's time goes: render it N times in-process (DEBUG off) under pyinstrument, and
count its queries, template renders and URL reversals per request.

    .venv/bin/python bench/profile_pages.py [--page checkout|products|status|api] [-n 300]

Uses a throwaway SQLite database with the demo catalogue, like `make bench-web`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR = Path(tempfile.mkdtemp(prefix="checkout-profile-"))
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VAR_DIR": str(VAR),
        "DEBUG": "0",
        "SECRET_KEY": "profile-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "testserver,127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SITE_URL": "http://testserver",
        "LOG_LEVEL": "WARNING",
        "API_THROTTLE_ANON": "10000000/min",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
)
for name in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(name, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    pages = ["checkout", "products", "status", "api"]
    parser.add_argument("--page", default="checkout", choices=pages)
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--html", help="write pyinstrument's HTML report here")
    parser.add_argument("--filter", default="", help="cProfile: only functions matching this")
    parser.add_argument("--all", action="store_true", help="show Django's own frames too")
    parser.add_argument("--nodes", action="store_true", help="time each template node")
    parser.add_argument("--time-only", action="store_true", help="only time the page")
    parser.add_argument("--cprofile", action="store_true", help="cProfile's top functions instead")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.signals import template_rendered
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls.resolvers import URLResolver
    from pyinstrument import Profiler

    call_command("migrate", verbosity=0)
    from django.conf import settings

    settings.DEBUG = True  # seed_demo refuses otherwise; the requests below run DEBUG off
    call_command("seed_demo", verbosity=0)
    settings.DEBUG = False
    call_command("collectstatic", interactive=False, verbosity=0)
    setup_test_environment()  # template_rendered is only sent under the test environment

    client = Client()
    if args.page == "checkout":
        client.get("/")
        client.post("/cart/update/", {"sku": "mug-classic"})
        path = "/checkout/"
    elif args.page == "products":
        path = "/"
    elif args.page == "api":
        path = "/api/v1/products/"
    else:
        order = client.post(
            "/api/v1/orders/",
            json.dumps(
                {"email": "p@example.com", "items": [{"sku": "mug-classic", "quantity": 1}]}
            ),
            content_type="application/json",
        ).json()
        client.post(
            f"/api/v1/orders/{order['number']}/payments/",
            json.dumps({"method": "card", "payment_method": "pm_card_visa"}),
            content_type="application/json",
            headers={"Idempotency-Key": "profile-1", "X-Client-Secret": order["client_secret"]},
        )
        path = f"/orders/{order['number']}/?key={order['client_secret']}"
    assert client.get(path).status_code == 200, path

    renders: list[str] = []
    template_rendered.connect(
        lambda sender, template, **kw: renders.append(template.name), weak=False
    )
    reversals: list[object] = []
    original = URLResolver._reverse_with_prefix

    def counting(self, lookup_view, _prefix, *a, **kw):  # type: ignore[no-untyped-def]
        reversals.append(lookup_view)
        return original(self, lookup_view, _prefix, *a, **kw)

    URLResolver._reverse_with_prefix = counting  # type: ignore[method-assign]
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    URLResolver._reverse_with_prefix = original  # type: ignore[method-assign]
    print(
        f"{path}: {len(queries)} queries, {len(renders)} template renders, "
        f"{len(reversals)} reversals"
    )
    for q in queries.captured_queries:
        print("  ", q["sql"][:150])
    from collections import Counter

    for name, count in Counter(renders).most_common():
        print(f"   {count:3d} x {name}")
    print("   reversed:", Counter(str(r) for r in reversals).most_common())

    import time

    if os.environ.get("GC_STATS"):
        import gc

        if os.environ.get("GC_STATS") == "freeze":
            gc.collect()
            gc.freeze()
        spent = {0: 0.0, 1: 0.0, 2: 0.0}
        counts = {0: 0, 1: 0, 2: 0}
        marks: list[float] = []

        def timing(phase: str, info: dict) -> None:
            if phase == "start":
                marks.append(time.perf_counter())
            else:
                spent[info["generation"]] += time.perf_counter() - marks.pop()
                counts[info["generation"]] += 1

        gc.callbacks.append(timing)
        for _ in range(args.n):
            client.get(path)
        gc.callbacks.remove(timing)
        for gen in spent:
            print(f"gc gen{gen}: {counts[gen]} runs, {spent[gen] * 1000 / args.n:.3f} ms a request")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(args.n):
            client.get(path)
        per_request = (time.perf_counter() - started) * 1000 / args.n
        print(f"{per_request:.2f} ms a request (in-process, no profiler)")
    if args.time_only:
        return
    if args.nodes:
        print_node_times(client, path, args.n)
        return
    if args.cprofile:
        import cProfile
        import pstats

        with cProfile.Profile() as cprof:
            for _ in range(args.n):
                client.get(path)
        stats = pstats.Stats(cprof)
        stats.sort_stats(os.environ.get("SORT", "cumulative")).print_stats(args.filter or "", 70)
        return
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(args.n):
        client.get(path)
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=args.all))
    if args.html:
        Path(args.html).write_text(profiler.output_html())


def print_node_times(client: object, path: str, n: int) -> None:
    """Exclusive time per template node (template, line, tag), the costliest first."""
    import time
    from collections import defaultdict

    from django.template import base

    spent: dict[tuple[str, int, str], float] = defaultdict(float)
    children: list[float] = []
    original = base.Node.render_annotated

    def timed(self, context):  # type: ignore[no-untyped-def]
        token = self.token
        key = (
            getattr(self.origin, "template_name", "?"),
            token.lineno if token else 0,
            token.contents[:60] if token else type(self).__name__,
        )
        started = time.perf_counter()
        children.append(0.0)
        try:
            return original(self, context)
        finally:
            elapsed = time.perf_counter() - started
            inner = children.pop()
            spent[key] += elapsed - inner
            if children:
                children[-1] += elapsed

    base.Node.render_annotated = timed  # type: ignore[method-assign]
    for _ in range(n):
        client.get(path)  # type: ignore[attr-defined]
    base.Node.render_annotated = original  # type: ignore[method-assign]
    total = sum(spent.values())
    print(f"template nodes: {total * 1000 / n:.2f} ms a request (exclusive times, timer included)")
    for (name, line, text), seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:30]:
        print(f"  {seconds * 1000 / n:6.3f} ms  {name}:{line}  {text}")


if __name__ == "__main__":
    main()
