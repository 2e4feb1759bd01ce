"""Product names in Simplified Chinese wherever a Chinese-speaking shopper reads about an order:
the order page (paid and still confirming), the receipt email (in the order's language, not
the worker's), the account export. Both names are copied at order time, so renaming or deleting
the product later changes nothing; lines from before the copy are backfilled from the product
where it still exists."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from checkout.models import Order, Product
from payments.models import AttemptStatus
from tests.checkout.helpers import checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db


def shopper(language: str) -> Client:
    client = Client()
    client.cookies["django_language"] = language
    return client


def lines_table(client: Client, order: Order) -> str:
    page = client.get(reverse("checkout:order_status", args=[order.number])).content.decode()
    return page.split('<table class="lines">')[1].split("</table>")[0]


def test_a_chinese_shoppers_order_page_and_receipt_name_the_product_in_chinese(
    shop, django_capture_on_commit_callbacks
):
    client = shopper("zh-hans")
    fill_cart(client, "mug", "tea")
    with django_capture_on_commit_callbacks(execute=True):
        assert pay(client, checkout_form(client)).status_code == 302
    order = Order.objects.get()
    assert order.language == "zh-hans"
    line_names = list(order.lines.values_list("name", "name_zh"))
    assert sorted(line_names) == [("Mug", "马克杯"), ("Tea", "茶")]

    table = lines_table(client, order)
    assert "马克杯" in table and "茶" in table and "Mug" not in table

    assert len(mail.outbox) == 1
    receipt = mail.outbox[0]
    assert "1 x 马克杯" in receipt.body and "Mug" not in receipt.body
    html = receipt.alternatives[0][0]
    assert "1 × 马克杯" in html and "Mug" not in html

    # The same order read in English (a support agent, the shopper switching language).
    client.cookies["django_language"] = "en"
    assert "Mug" in lines_table(client, order) and "马克杯" not in lines_table(client, order)


def test_the_confirming_page_names_the_product_in_chinese(shop):
    client = shopper("zh-hans")
    fill_cart(client, "mug")
    pay(client, checkout_form(client), payment_method="pm_sim_timeout_then_succeeded")
    order = Order.objects.get()
    assert order.attempts.get().status == AttemptStatus.UNKNOWN
    assert "马克杯" in lines_table(client, order)


def test_names_are_the_ones_of_order_time_even_after_the_product_changes_or_goes(shop):
    client = shopper("zh-hans")
    fill_cart(client, "mug")
    pay(client, checkout_form(client))
    order = Order.objects.get()
    Product.objects.filter(sku="mug").update(name_zh="新马克杯", name_en="New mug")
    assert "马克杯" in lines_table(client, order) and "新马克杯" not in lines_table(client, order)
    Product.objects.filter(sku="mug").delete()
    assert "马克杯" in lines_table(client, order)


def test_a_line_without_a_chinese_name_shows_the_english_one(shop):
    client = shopper("zh-hans")
    fill_cart(client, "mug")
    pay(client, checkout_form(client))
    order = Order.objects.get()
    order.lines.update(name_zh="")
    assert "Mug" in lines_table(client, order)


@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_from_the_product_where_it_still_exists():
    executor = MigrationExecutor(connection)
    before = [("checkout", "0002_order_event")]
    after = [("checkout", "0003_orderline_name_zh")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Product = old.get_model("checkout", "Product")
    OrderModel = old.get_model("checkout", "Order")
    Line = old.get_model("checkout", "OrderLine")
    mug = Product.objects.create(
        sku="mug", name_en="Mug", name_zh="马克杯", price=1200, currency="USD"
    )
    gone = Product.objects.create(
        sku="gone", name_en="Gone", name_zh="已下架", price=100, currency="USD"
    )
    order = OrderModel.objects.create(
        number="CK-TESTMIGR", email="a@example.com", total=1300, currency="USD"
    )
    Line.objects.create(
        order=order, product=mug, sku="mug", name="Mug", unit_price=1200, quantity=1,
        line_total=1200,
    )  # fmt: skip
    Line.objects.create(
        order=order, product=gone, sku="gone", name="Gone", unit_price=100, quantity=1,
        line_total=100,
    )  # fmt: skip
    gone.delete()  # the line keeps its copy; its product is NULL now

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    names = dict(new.get_model("checkout", "OrderLine").objects.values_list("sku", "name_zh"))
    # Every app back to its latest migration: going back to checkout 0002 also unapplied the
    # migrations of other apps that depend on later checkout ones.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert names == {"mug": "马克杯", "gone": ""}
