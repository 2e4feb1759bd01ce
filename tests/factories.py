from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from checkout.models import Order, OrderLine, Product
from payments.models import PaymentMethod

PASSWORD = "a-strong-test-pass-9876"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")

    @factory.post_generation
    def password(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"sku-{n}")
    name_en = factory.Sequence(lambda n: f"Product {n}")
    name_zh = factory.Sequence(lambda n: f"商品 {n}")
    price = 1200
    currency = "USD"


class PaymentMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentMethod
        django_get_or_create = ("code",)

    code = "card"
    kind = "card"
    provider = "simulator"
    label_en = "Card"
    label_zh = "银行卡"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    full_name = "Test Buyer"
    total = 2400
    currency = "USD"

    @factory.post_generation
    def lines(self, create: bool, extracted: object, **kwargs: object) -> None:
        if not create:
            return
        product = ProductFactory(price=self.total // 2, currency=self.currency)
        OrderLine.objects.create(
            order=self,
            product=product,
            sku=product.sku,
            name=product.name_en,
            unit_price=product.price,
            quantity=2,
            line_total=product.price * 2,
        )


def money_back_seed(*, user, attempt, card: PaymentMethod, prefix: str) -> dict:
    """What the money-back surfaces name, for the permission matrix and schemathesis alike:
    $5.00 of `attempt` refunded to where it came from, `user`'s wallet topped up with $30.00 by
    `card` and $10.00 of it withdrawn. Keys start with `prefix`."""
    from checkout import services as checkout_services
    from payments import services as payment_services

    refund = payment_services.refund_create(
        attempt=attempt,
        amount=500,
        destination="original",
        reason="asked",
        actor="staff:carol@example.com",
        idempotency_key=f"{prefix}-refund",
    )
    top_up = checkout_services.wallet_top_up_order_create(
        user=user, amount=3000, currency="USD", language="en"
    )
    payment_services.attempt_pay(
        order=top_up,
        method=card,
        idempotency_key=f"{prefix}-top-up",
        payment_method="pm_card_visa",
    )
    withdrawal, _created = payment_services.withdrawal_request(
        user=user, currency="USD", amount=1000, idempotency_key=f"{prefix}-withdraw"
    )
    return {"refund": refund, "withdrawal": withdrawal}
