"""The production guard: with DEBUG off the app refuses to start without its secrets, and with
them the deploy checklist is clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROD_KEY = "x9#Lq2!vR7@pT4$wZ8^mN3&kB6*hJ1(cF5)gD0_sA-yU+eI=oP;aS:dG<fH>jK"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"}
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


def test_deploy_check_has_no_warnings_in_production():
    result = run(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=PROD_KEY,
        ALLOWED_HOSTS="shop.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_refused_values_that_are_not_booleans():
    result = run("check", DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_seed_command_refuses_to_run_in_production():
    result = run("seed_demo", DEBUG="0", SECRET_KEY=PROD_KEY, ALLOWED_HOSTS="shop.example.com")
    assert result.returncode != 0
    assert "Refusing to load demo data with DEBUG off" in result.stderr
