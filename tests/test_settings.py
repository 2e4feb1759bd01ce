"""The production guard: with DEBUG off the app refuses to start without its secrets and its
address (SITE_URL), and with them the deploy checklist is clean. The demo's address follows
the port `make demo` serves on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROD_KEY = "x9#Lq2!vR7@pT4$wZ8^mN3&kB6*hJ1(cF5)gD0_sA-yU+eI=oP;aS:dG<fH>jK"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "SITE_URL", "PORT"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_refuses_to_start_without_secret_key_and_allowed_hosts():
    result = run("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "ALLOWED_HOSTS" in result.stderr


def test_refuses_to_start_without_allowed_hosts():
    result = run("check", DEBUG="0", SECRET_KEY=PROD_KEY)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr and "SECRET_KEY," not in result.stderr


def test_refuses_to_start_without_site_url():
    """Links in emails would point at a made-up address."""
    result = run("check", DEBUG="0", SECRET_KEY=PROD_KEY, ALLOWED_HOSTS="shop.example.com")
    assert result.returncode != 0
    assert "required: SITE_URL" in result.stderr


def test_refuses_a_site_url_that_is_not_an_absolute_address():
    result = run("check", SITE_URL="shop.example.com")
    assert result.returncode != 0
    assert "SITE_URL must be an absolute http(s) URL" in result.stderr


def site_url(**env: str) -> str:
    code = "from django.conf import settings; print(settings.SITE_URL)"
    result = run("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_demo_address_follows_port_and_an_explicit_site_url_wins():
    assert site_url() == "http://127.0.0.1:8000"
    assert site_url(PORT="8080") == "http://127.0.0.1:8080"
    assert site_url(PORT="8080", SITE_URL="http://shop.test:9000/") == "http://shop.test:9000"
    production = {"DEBUG": "0", "SECRET_KEY": PROD_KEY, "ALLOWED_HOSTS": "shop.example.com"}
    assert site_url(**production, PORT="8080", SITE_URL="https://shop.example.com") == (
        "https://shop.example.com"
    )


def test_make_demo_hands_its_port_to_the_settings():
    """`make demo PORT=8080` serves on 8080, so its emails must link to 8080: the Makefile
    passes PORT to every command it runs (a target of this test, added to the real Makefile,
    reads the settings as the demo's processes do)."""
    probe = (
        "probe-site-url:\n"
        "\t@$(PY) -c 'import django; django.setup(); "
        "from django.conf import settings; print(settings.SITE_URL)'\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "PORT", "DEBUG"}}
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-f",
            "Makefile",
            "-f",
            "-",
            "probe-site-url",
            "PORT=8080",
        ],
        cwd=ROOT,
        env=clean,
        input=probe,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://127.0.0.1:8080"


def test_deploy_check_has_no_warnings_in_production():
    result = run(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=PROD_KEY,
        ALLOWED_HOSTS="shop.example.com",
        SITE_URL="https://shop.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_refused_values_that_are_not_booleans():
    result = run("check", DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_seed_command_refuses_to_run_in_production():
    result = run(
        "seed_demo",
        DEBUG="0",
        SECRET_KEY=PROD_KEY,
        ALLOWED_HOSTS="shop.example.com",
        SITE_URL="https://shop.example.com",
    )
    assert result.returncode != 0
    assert "Refusing to load demo data with DEBUG off" in result.stderr
