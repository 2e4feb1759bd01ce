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
