"""Security headers: a strict Content-Security-Policy on every page we serve, pages with no
inline code for it to refuse, Stripe's origins only beside Stripe, and no Server header naming
the software."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from checkout.models import Order
from config.settings import content_security_policy
from support import services
from support.chat import services as chat
from support.models import HelpArticle
from support.seed import seed_support
from tests.checkout.helpers import checkout_form, fill_cart, pay

ROOT = Path(__file__).resolve().parent.parent

# An executable inline script: <script> without src whose type is not a data block.
INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I
)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)

# Not pages: they answer POST only, or JSON, text, a script, a redirect to elsewhere.
SKIP_NAMES = {
    "healthz",
    "metrics",
    "schema",
    "set_language",
    "accounts:logout",
    "admin:logout",
    "admin:jsi18n",
    "payments:webhook",
}


def _walk(resolvers, prefix="", namespace=""):
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), f"{namespace}{entry.name}" if entry.name else ""


def parameterless_pages() -> list[str]:
    """Every URL pattern that needs no argument (the admin's lists and add forms among them)."""
    paths = []
    for route, name in _walk(get_resolver().url_patterns):
        if "<" in route or "(?P" in route or name in SKIP_NAMES:
            continue
        path = "/" + route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\", "")
        paths.append(path)
    return sorted(set(paths))


@pytest.fixture
def pages(client, shop, alice, carol):
    """Clients and URLs for every page kind: the walk above, plus pages that need an object."""
    seed_support()
    fill_cart(client, "mug")
    pay(client, checkout_form(client))
    order = Order.objects.get()
    ticket = services.ticket_open(
        email=alice.email, requester=alice, subject="Card", body="It was declined"
    )
    conversation = chat.conversation_start(customer=alice, body="Hello")
    article = HelpArticle.objects.order_by("pk").first()
    customer = Client()
    customer.force_login(alice)
    staff = Client()
    staff.force_login(carol)
    with_objects = [
        (client, reverse("checkout:order_status", args=[order.number])),
        (client, reverse("checkout:order_resume", args=[order.number])),
        (customer, reverse("support:ticket", args=[ticket.number])),
        (customer, reverse("support:chat", args=[conversation.public_id])),
        (client, reverse("support:article", args=[article.slug])),
        (client, reverse("support:article_search") + "?q=bank"),
        (client, reverse("support:contact") + "?code=expired_card"),
        (staff, reverse("admin:checkout_order_change", args=[order.pk])),
        (staff, reverse("admin:support_ticket_change", args=[ticket.pk])),
        (staff, reverse("admin:support_conversation_change", args=[conversation.pk])),
    ]
    # The browsable API, where DEBUG adds it, is a page too.
    browsable = Client(headers={"accept": "text/html"})
    browsable.force_login(alice)
    with_objects += [(browsable, "/api/v1/products/"), (browsable, "/api/v1/orders/")]
    attempt = order.attempts.first()
    if attempt is not None:
        with_objects.append(
            (staff, reverse("admin:payments_paymentattempt_change", args=[attempt.pk]))
        )
    walked = [(c, p) for p in parameterless_pages() for c in (Client(), customer, staff)]
    return walked + with_objects


def assert_strict_policy(response, where):
    policy = response.headers.get("Content-Security-Policy", "")
    assert policy, f"{where}: no Content-Security-Policy"
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in policy.split(";") if part.strip()
    )
    assert directives["default-src"] == "'self'", where
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, where
    assert directives["frame-ancestors"] == "'none'", where
    assert directives["object-src"] == "'none'", where


def test_every_page_has_the_policy_and_no_inline_code(pages):
    html_pages = 0
    for client, path in pages:
        response = client.get(path)
        where = f"{path} ({response.status_code})"
        assert response.status_code < 500, where
        assert_strict_policy(response, where)
        if response.status_code != 200 or "text/html" not in response.headers["Content-Type"]:
            continue
        html_pages += 1
        body = response.content.decode()
        for pattern in (INLINE_SCRIPT, INLINE_STYLE, INLINE_HANDLER, JS_URL):
            found = pattern.search(body)
            assert found is None, f"{where}: inline code {found and found.group(0)!r}"
    # The walk found the shop's, the account's, the support desk's and the admin's pages.
    assert html_pages >= 80, html_pages


def test_the_admin_lists_and_forms_of_every_model_are_covered(pages):
    paths = {p for _c, p in pages}
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        assert reverse("admin:{}_{}_changelist".format(*info)) in paths


def test_the_api_docs_page_loads_its_script_from_a_file(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    body = response.content.decode()
    assert INLINE_SCRIPT.search(body) is None and INLINE_STYLE.search(body) is None
    assert '<script src="/api/docs/?script=' in body
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def test_every_template_of_ours_is_free_of_inline_code():
    """Pages the walk cannot reach (error states, rare branches) are checked in the source.
    Emails are not web pages: mail clients need their inline styles."""
    offenders = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        if "emails" in template.relative_to(ROOT / "templates").parts:
            continue
        text = template.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_STYLE, INLINE_HANDLER, JS_URL):
            offenders += [f"{template.name}: {m.group(0)}" for m in pattern.finditer(text)]
    assert offenders == []


@pytest.mark.django_db
def test_stripe_is_allowed_only_when_configured(client, settings, shop):
    response = client.get("/")
    assert "stripe" not in response.headers["Content-Security-Policy"]
    assert "form-action 'self'" in response.headers["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = content_security_policy(
        stripe=True, site_url="https://shop.example.com"
    )
    policy = client.get("/").headers["Content-Security-Policy"]
    directives = {
        part.strip().split(" ", 1)[0]: part.strip().split(" ", 1)[1]
        for part in policy.split(";")
        if part.strip()
    }
    assert directives["script-src"] == "'self' https://js.stripe.com https://*.js.stripe.com"
    assert directives["frame-src"] == (
        "https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com"
    )
    assert directives["connect-src"] == "'self' wss://shop.example.com https://api.stripe.com"
    assert directives["style-src"] == "'self'"


def test_the_stripe_keys_in_the_environment_switch_the_policy():
    """The setting is read once at start-up: prove it from a fresh process."""
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from csp.utils import build_policy; "
        "p = build_policy(config=settings.CONTENT_SECURITY_POLICY['DIRECTIVES']); "
        "print('\\n'.join(d.strip() for d in p.split(';') if 'script' in d or 'connect' in d))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1"}
    env.pop("STRIPE_SECRET_KEY", None)
    env.pop("STRIPE_PUBLISHABLE_KEY", None)
    env["SITE_URL"] = "http://127.0.0.1:8000"
    plain = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert sorted(plain.stdout.splitlines()) == [
        "connect-src 'self' ws://127.0.0.1:8000",
        "script-src 'self'",
    ], plain.stderr
    env["STRIPE_PUBLISHABLE_KEY"] = "pk_test_x"
    with_stripe = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert sorted(with_stripe.stdout.splitlines()) == [
        "connect-src 'self' ws://127.0.0.1:8000 https://api.stripe.com",
        "script-src 'self' https://js.stripe.com https://*.js.stripe.com",
    ], with_stripe.stderr


def test_a_refused_request_carries_the_policy_too(client, db):
    response = client.get("/orders/%00/")
    assert response.status_code == 400
    assert_strict_policy(response, "400")


# --- The Server header --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _makefile_server_options() -> list[str]:
    """The options `make demo` starts uvicorn with (the line this test guards; the command
    continues on the next line after a backslash)."""
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    for line in makefile.splitlines():
        if "/bin/uvicorn " in line:
            words = shlex.split(line.strip())
            return [w for w in words[1:] if w in ("--no-server-header",)]
    raise AssertionError("no uvicorn command in the Makefile")


def _server_header(tmp_path, options: list[str]) -> tuple[int, str | None]:
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VAR_DIR": str(tmp_path / "var"),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *options, "--lifespan", "off"]
        + ["--host", "127.0.0.1", "--port", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
                time.sleep(0.2)
        # /healthz needs no database rows; any answer shows the headers.
        request = urllib.request.Request(f"http://127.0.0.1:{port}/static/css/site.css")
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Server")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.worker
def test_the_server_header_names_no_software(tmp_path):
    options = _makefile_server_options()
    assert "--no-server-header" in options
    status, server = _server_header(tmp_path, options)
    assert (status, server) == (200, None)


@pytest.mark.worker
def test_without_the_option_uvicorn_would_name_itself(tmp_path):
    """The control for the test above: the header it proves absent is otherwise there."""
    assert _server_header(tmp_path, []) == (200, "uvicorn")
