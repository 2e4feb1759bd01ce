"""Dependencies point one way (docs/architecture.md), and a tool says so: the import-linter
contracts hold, they break when an import goes up, and the registries that replace the upward
imports are filled in."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.core.management import call_command

from checkout.models import OrderStatus
from payments.orders import OrderState, order_book

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(*config: str) -> subprocess.CompletedProcess[str]:
    # No cache: a probe written a moment ago must be seen.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *config],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_contracts_hold():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("probe", "body", "broken"),
    [
        # Payments below checkout and support: an import of support, even inside a function.
        (
            "payments/_cycle_probe.py",
            "def probe():\n    import support.models  # noqa: F401\n",
            "payments is not allowed to import support",
        ),
        # Checkout below support, at module level.
        (
            "checkout/_cycle_probe.py",
            "from support import selectors  # noqa: F401\n",
            "checkout is not allowed to import support",
        ),
        # The outbox imports none of the apps.
        (
            "outbox/_cycle_probe.py",
            "import accounts.models  # noqa: F401\n",
            "outbox is not allowed to import accounts",
        ),
    ],
)
def test_an_upward_import_breaks_the_contracts(probe, body, broken):
    path = ROOT / probe
    assert not path.exists()
    try:
        path.write_text('"""Planted by tests/test_architecture.py; deleted at once."""\n' + body)
        result = lint_imports()
    finally:
        path.unlink()
    assert result.returncode == 1, result.stdout
    assert broken in result.stdout
    assert "_cycle_probe" in result.stdout


def test_the_kernel_importing_an_app_breaks_the_contracts(tmp_path):
    """A kernel module importing an app (config.metrics used to import payments) fails: a probe
    module joins the kernel layer in a copy of the contracts."""
    text = (ROOT / "pyproject.toml").read_text()
    assert text.count('"config.settings : ') == 1
    contracts = tmp_path / "pyproject.toml"
    contracts.write_text(
        text.replace('"config.settings : ', '"config._cycle_probe : config.settings : ')
    )
    path = ROOT / "config" / "_cycle_probe.py"
    assert not path.exists()
    try:
        path.write_text("def probe():\n    from payments import models  # noqa: F401\n")
        result = lint_imports(str(contracts))
    finally:
        path.unlink()
    assert result.returncode == 1, result.stdout
    assert "config._cycle_probe is not allowed to import payments" in result.stdout


def _contract_modules() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (layers,) = [
        c["layers"] for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers"
    ]
    return {m.strip() for layer in layers for m in layer.replace("|", ":").split(":")}


def test_every_config_module_sits_in_a_config_layer():
    """A config module named in no layer would be checked by nothing."""
    on_disk = {f"config.{p.stem}" for p in (ROOT / "config").glob("*.py") if p.stem != "__init__"}
    assert on_disk - _contract_modules() == set()


def test_the_layers_are_the_documented_order():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (layers,) = [
        c["layers"] for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers"
    ]
    assert layers[1:6] == ["support", "checkout", "payments", "accounts", "outbox"]
    assert layers[0].startswith("config.urls")
    assert layers[6].startswith("config.settings")


# The registries that replace the upward imports are filled in by the apps above.


def test_checkout_fills_in_payments_order_book():
    from checkout.payable import CheckoutOrderBook

    assert isinstance(order_book(), CheckoutOrderBook)


def test_the_order_states_payments_uses_are_checkouts():
    assert [s.value for s in OrderState] == [
        "pending",
        "paid",
        "canceled",
        "partially_refunded",
        "refunded",
    ]
    assert {s.value for s in OrderState} <= set(OrderStatus.values)


@pytest.mark.django_db
def test_the_checkout_failure_box_offers_supports_article(client, shop):
    from support.seed import seed_support

    from .checkout.helpers import checkout_form, fill_cart, pay

    seed_support()
    fill_cart(client, "mug")
    response = pay(
        client, checkout_form(client), payment_method="pm_card_visa_chargeDeclinedInsufficientFunds"
    )
    box = response.content.decode().split('id="payment-failure"')[1].split("</div>")[0]
    assert 'href="/support/help/insufficient-funds/"' in box


@pytest.mark.django_db
def test_seed_demo_seeds_supports_articles_through_the_signal(settings):
    from support.models import CannedReply, HelpArticle

    settings.DEBUG = True
    call_command("seed_demo")
    assert HelpArticle.objects.filter(slug="insufficient-funds").exists()
    assert CannedReply.objects.exists()
