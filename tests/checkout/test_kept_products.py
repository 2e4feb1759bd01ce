"""The cart's products a process keeps between requests (checkout.selectors.products_by_sku):
kept while the catalog's stamp stays, read again after any write to a product, never kept
from inside a transaction, and bounded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checkout import selectors
from checkout.models import Product
from checkout.selectors import _PRODUCTS, cart_get, products_by_sku

from ..factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    _PRODUCTS.clear()
    yield
    _PRODUCTS.clear()


@pytest.fixture
def catalog() -> None:
    ProductFactory(sku="mug", name_en="Mug", price=1200)
    ProductFactory(sku="tea", name_en="Green tea", price=800)


def lines(cart: dict[str, int]) -> list[tuple[str, int, int]]:
    session = {selectors.CART_SESSION_KEY: cart}
    return [(line.product.sku, line.quantity, line.line_total) for line in cart_get(session).lines]


def product_queries(queries: CaptureQueriesContext) -> int:
    return sum('FROM "checkout_product"' in q["sql"] for q in queries.captured_queries)


def test_a_second_cart_read_asks_only_for_products_not_read_before(catalog):
    ProductFactory(sku="pot", name_en="Teapot", price=3000)
    assert lines({"mug": 1}) == [("mug", 1, 1200)]
    with CaptureQueriesContext(connection) as queries:
        assert lines({"mug": 2}) == [("mug", 2, 2400)]
    assert product_queries(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        assert lines({"mug": 1, "tea": 1, "pot": 1}) == [
            ("tea", 1, 800),  # by English name, as before: Green tea, Mug, Teapot
            ("mug", 1, 1200),
            ("pot", 1, 3000),
        ]
    assert product_queries(queries) == 1
    sql = next(q["sql"] for q in queries.captured_queries if "checkout_product" in q["sql"])
    assert "'tea'" in sql and "'pot'" in sql and "'mug'" not in sql  # only the two not read


def _price_saved():
    mug = Product.objects.get(sku="mug")
    mug.price = 1500
    mug.save()


def _price_updated():
    Product.objects.filter(sku="mug").update(price=1500)


def _price_by_raw_sql():
    with connection.cursor() as cursor:
        cursor.execute("UPDATE checkout_product SET price = 1500 WHERE sku = 'mug'")


def _taken_off_sale():
    Product.objects.filter(sku="mug").update(active=False)


def _deleted():
    Product.objects.filter(sku="mug").delete()


def _renamed_to_sort_last():
    Product.objects.filter(sku="mug").update(name_en="Zen mug")


WRITES = [
    (_price_saved, [("tea", 1, 800), ("mug", 1, 1500)]),
    (_price_updated, [("tea", 1, 800), ("mug", 1, 1500)]),
    (_price_by_raw_sql, [("tea", 1, 800), ("mug", 1, 1500)]),
    (_taken_off_sale, [("tea", 1, 800)]),
    (_deleted, [("tea", 1, 800)]),
    (_renamed_to_sort_last, [("tea", 1, 800), ("mug", 1, 1200)]),
]


@pytest.mark.parametrize(("write", "after"), WRITES, ids=[w.__name__ for w, _ in WRITES])
def test_every_write_to_a_product_is_seen_by_the_next_cart(catalog, write, after):
    before = [("tea", 1, 800), ("mug", 1, 1200)]
    assert lines({"mug": 1, "tea": 1}) == before
    assert lines({"mug": 1, "tea": 1}) == before  # kept
    write()
    assert lines({"mug": 1, "tea": 1}) == after


def test_an_unknown_sku_is_left_out_until_the_product_exists(catalog):
    assert lines({"mug": 1, "kettle": 1}) == [("mug", 1, 1200)]
    ProductFactory(sku="kettle", name_en="Kettle", price=4000)
    assert lines({"mug": 1, "kettle": 1}) == [("kettle", 1, 4000), ("mug", 1, 1200)]


def test_nothing_is_kept_from_inside_a_transaction(catalog):
    with pytest.raises(RuntimeError), transaction.atomic():
        Product.objects.filter(sku="mug").update(price=1)
        with CaptureQueriesContext(connection) as inside:
            assert lines({"mug": 1}) == [("mug", 1, 1)]  # its own write, inside
            assert lines({"mug": 1}) == [("mug", 1, 1)]
        raise RuntimeError("rolled back")
    # Read from the database both times, the stamp never asked: nothing kept in a transaction.
    assert product_queries(inside) == 2
    assert not any("changestamp" in q["sql"] for q in inside.captured_queries)
    assert lines({"mug": 1}) == [("mug", 1, 1200)]


def test_past_the_bound_the_rest_is_read_every_time(catalog, monkeypatch):
    monkeypatch.setattr(selectors, "PRODUCTS_KEPT_MAX", 1)
    assert products_by_sku(["mug"]).keys() == {"mug"}  # kept: one
    with CaptureQueriesContext(connection) as queries:
        assert products_by_sku(["mug", "tea"]).keys() == {"mug", "tea"}
        assert products_by_sku(["mug", "tea"]).keys() == {"mug", "tea"}
    assert product_queries(queries) == 2  # tea each time, mug never
    assert _PRODUCTS.get().keys() == {"mug"}


# Which of the checkout's orders one cart read finds (checkout.selectors._checkout_orders, a
# written-out statement): by token or by number, paid (any refund state) or pending; never a
# canceled one, never another checkout's, and a missing token never finds the orders made over
# the API without one.
ORDERS_FOUND = [
    # token asked, number asked, found (the orders' names)
    ("tp", None, ["pending"]),
    ("ta", None, ["paid"]),
    ("tb", None, ["partly-refunded"]),
    ("tc", None, ["refunded"]),
    ("tx", None, []),  # canceled
    (None, "N-OTHER", ["other-number"]),
    ("tp", "N-OTHER", ["pending", "other-number"]),
    (None, "N-API", ["api-no-token"]),
    ("nope", None, []),
    (None, "N-NONE", []),
]


@pytest.mark.parametrize(("token", "number", "found"), ORDERS_FOUND)
def test_the_cart_read_finds_exactly_its_checkouts_orders(token, number, found):
    from ..factories import OrderFactory

    names = {}
    for name, order_token, status, order_number in [
        ("pending", "tp", "pending", "N-1"),
        ("paid", "ta", "paid", "N-2"),
        ("partly-refunded", "tb", "partially_refunded", "N-3"),
        ("refunded", "tc", "refunded", "N-4"),
        ("canceled", "tx", "canceled", "N-5"),
        ("api-no-token", "", "paid", "N-API"),
        ("other-number", "t9", "paid", "N-OTHER"),
    ]:
        paid_at = None if status in ("pending", "canceled") else timezone.now()
        order = OrderFactory(
            checkout_token=order_token, status=status, number=order_number, paid_at=paid_at
        )
        names[order.pk] = name
    orders = selectors._checkout_orders(token=token, number=number)
    assert sorted(names[o.pk] for o in orders) == sorted(found)
