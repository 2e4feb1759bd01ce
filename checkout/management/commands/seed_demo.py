"""Demo data: products, payment methods and the three demo people.

Running it twice changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from checkout.management.commands.setup_shop import methods_setup, support_group_setup
from checkout.models import Product
from checkout.signals import demo_seeding
from payments.models import PaymentMethod, PaymentRoute
from payments.money import to_minor

DEMO_PASSWORD = "demo-pass-1234"

# Prices in US dollars; other shop currencies get a rough, rounded equivalent.
_RATES = {
    "USD": Decimal(1),
    "EUR": Decimal("0.9"),
    "GBP": Decimal("0.8"),
    "CNY": Decimal(7),
    "JPY": Decimal(150),
    "HKD": Decimal("7.8"),
}

PRODUCTS = [
    ("mug-classic", "Classic ceramic mug", "经典陶瓷马克杯", "12.00"),
    ("tea-sampler", "Green tea sampler", "绿茶品鉴装", "18.50"),
    ("notebook-a5", "A5 dotted notebook", "A5 点阵笔记本", "9.90"),
    ("pen-fountain", "Fountain pen", "钢笔", "34.00"),
    ("tote-canvas", "Canvas tote bag", "帆布托特包", "22.00"),
    ("socks-wool", "Merino wool socks", "美利奴羊毛袜", "16.00"),
    ("candle-cedar", "Cedar scented candle", "雪松香薰蜡烛", "26.00"),
    ("lamp-desk", "LED desk lamp", "LED 台灯", "59.00"),
    ("headphones", "Wireless headphones", "无线耳机", "129.00"),
    ("backpack", "Everyday backpack", "日常双肩包", "89.00"),
    ("plant-pot", "Stoneware plant pot", "粗陶花盆", "14.50"),
    ("puzzle-1000", "1000-piece puzzle", "1000 片拼图", "24.00"),
]

PEOPLE = [
    ("alice@example.com", "Alice Customer", {}),
    ("bob@example.com", "Bob Support", {"is_staff": True}),
    ("carol@example.com", "Carol Admin", {"is_staff": True, "is_superuser": True}),
]


def _seed_routes(method: PaymentMethod) -> int:
    """The method's own provider as its first route; with the simulator, a second simulator
    route too, so the demo shows failover without credentials (set "simulate refused
    connections" on the first route in admin). Returns how many routes were new."""
    providers = [method.provider]
    if method.provider == PaymentMethod.Provider.SIMULATOR:
        providers.append(PaymentMethod.Provider.SIMULATOR_B)
    created = 0
    for priority, provider in enumerate(providers, start=1):
        _route, new = PaymentRoute.objects.get_or_create(
            method=method, provider=provider, defaults={"priority": priority * 10}
        )
        created += new
    return created


def _price(usd: str, currency: str) -> int:
    rate = _RATES.get(currency, Decimal(1))
    major = Decimal(usd) * rate
    major = major.quantize(Decimal(1)) if rate >= 7 else major.quantize(Decimal("0.01"))
    return to_minor(major, currency)


class Command(BaseCommand):
    help = "Load demo products, payment methods and users (idempotent; DEBUG only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Refusing to load demo data with DEBUG off: this is not a demo.")
        with transaction.atomic():
            created = self._seed()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({created} new rows)."))

    def _seed(self) -> int:
        created = 0
        currency = settings.SHOP_CURRENCY
        for sku, name_en, name_zh, usd in PRODUCTS:
            _obj, new = Product.objects.get_or_create(
                sku=sku,
                defaults={
                    "name_en": name_en,
                    "name_zh": name_zh,
                    "price": _price(usd, currency),
                    "currency": currency,
                },
            )
            created += new
        # The methods and the agents' group exactly as production gets them (setup_shop),
        # then the demo's second simulator route for each method that has one.
        created += methods_setup()
        for method in PaymentMethod.objects.all():
            created += _seed_routes(method)
        support = support_group_setup()
        # The apps above checkout (support's articles and canned replies) seed themselves.
        for _receiver, count in demo_seeding.send(sender=self.__class__):
            created += int(count or 0)
        User = get_user_model()
        for email, name, flags in PEOPLE:
            if User.objects.filter(email=email).exists():
                continue
            user = User.objects.create_user(
                email=email, password=DEMO_PASSWORD, full_name=name, **flags
            )
            if email.startswith("bob"):
                user.groups.add(support)
            created += 1
        return created
