"""What a production shop needs before its first customer: the payment methods and the support
agents' group. Safe on every release: it creates what is missing and never changes what an admin
has edited (labels, switches, limits, order).

Products are not made here: load them as a fixture (docs/deploy.md) or add them in the admin.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q

from payments.models import PaymentMethod

# code, kind, label_en, label_zh, display/fallback order
METHODS = [
    ("card", "card", "Card", "银行卡", 10),
    ("alipay", "alipay", "Alipay", "支付宝", 20),
    ("wechat_pay", "wechat_pay", "WeChat Pay", "微信支付", 30),
    ("wallet", "wallet", "Wallet", "钱包", 40),
]
SUPPORT_GROUP = "Support agents"


def methods_setup() -> int:
    """The four payment methods, through the configured gateway (the wallet through itself)."""
    created = 0
    provider = settings.PAYMENTS_GATEWAY
    for code, kind, label_en, label_zh, order in METHODS:
        _method, new = PaymentMethod.objects.get_or_create(
            code=code,
            defaults={
                "kind": kind,
                "label_en": label_en,
                "label_zh": label_zh,
                "provider": "wallet" if kind == "wallet" else provider,
                "display_order": order,
                "fallback_order": order,
            },
        )
        created += new
    return created


def support_group_setup() -> Group:
    """Agents read orders, payments and support, answer tickets and chats, keep canned replies."""
    group, _new = Group.objects.get_or_create(name=SUPPORT_GROUP)
    group.permissions.set(
        Permission.objects.filter(
            Q(content_type__app_label__in=["checkout", "payments", "support", "axes"])
            & Q(codename__startswith="view_")
            | Q(
                content_type__app_label="support",
                codename__in=[
                    "answer_ticket",
                    "change_ticket",
                    "change_conversation",
                    "add_cannedreply",
                    "change_cannedreply",
                ],
            )
        )
    )
    return group


class Command(BaseCommand):
    help = "Create the payment methods and the support agents' group if missing (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            created = methods_setup()
            support_group_setup()
        self.stdout.write(
            self.style.SUCCESS(
                f"Shop ready: {created} payment method(s) created, "
                f"{PaymentMethod.objects.count()} in all, provider {settings.PAYMENTS_GATEWAY}."
            )
        )
