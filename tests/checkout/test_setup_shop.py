"""setup_shop: what production needs before its first customer, safe to run on every release."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from payments.models import PaymentMethod

pytestmark = pytest.mark.django_db


def test_it_creates_the_four_methods_through_the_configured_gateway(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.PAYMENTS_GATEWAY = "stripe"
    call_command("setup_shop", verbosity=0)
    assert sorted(PaymentMethod.objects.values_list("code", "kind", "provider", "enabled")) == [
        ("alipay", "alipay", "stripe", True),
        ("card", "card", "stripe", True),
        ("wallet", "wallet", "wallet", True),
        ("wechat_pay", "wechat_pay", "stripe", True),
    ]
    agents = Group.objects.get(name="Support agents")
    codenames = set(agents.permissions.values_list("codename", flat=True))
    assert {"view_order", "view_paymentattempt", "answer_ticket", "change_ticket"} <= codenames
    assert "add_refund" not in codenames  # refunds are the admins'


def test_running_it_again_keeps_what_an_admin_changed():
    call_command("setup_shop", verbosity=0)
    PaymentMethod.objects.filter(code="alipay").update(enabled=False, label_en="Alipay (CN)")
    PaymentMethod.objects.filter(code="card").delete()
    call_command("setup_shop", verbosity=0)
    alipay = PaymentMethod.objects.get(code="alipay")
    assert (alipay.enabled, alipay.label_en) == (False, "Alipay (CN)")
    # A method an admin deleted comes back: the shop cannot take cards without it.
    assert PaymentMethod.objects.filter(code="card").count() == 1
    assert PaymentMethod.objects.count() == 4
