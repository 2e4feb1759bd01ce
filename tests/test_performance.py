"""Speed we can assert without a stopwatch: how many queries a page makes and how heavy it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.checkout.helpers import checkout_form, fill_cart, pay
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
STATIC = Path(__file__).resolve().parent.parent / "static"


def test_product_list_queries_do_not_grow_with_products(
    client, shop, django_assert_max_num_queries
):
    for i in range(30):
        ProductFactory(sku=f"extra-{i}")
    with django_assert_max_num_queries(3):
        assert client.get("/").status_code == 200


def test_checkout_page_query_budget(client, shop, django_assert_num_queries):
    fill_cart(client, "mug", "tea")
    # The first visit starts the checkout: the session; the cart's products; the methods with
    # their health; their routes with the routes' health (a method stays available while any
    # route is, issue 15); the visit's row (its token); the session saved with the token, in a
    # savepoint. (No checkout yet, so no order of it to read.)
    with django_assert_num_queries(8):
        assert client.get(reverse("checkout:checkout")).status_code == 200
    # Coming back: the same reads, no writes, plus this checkout's orders in one read: the
    # paid ones (checkout.selectors.cart_items: a losing tab may have saved the paid cart
    # back) and the unpaid one (to prefill what was typed). The header's count comes from the
    # cart the page already read, not from a second read.
    with django_assert_num_queries(5):
        assert client.get(reverse("checkout:checkout")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_checkout_page_query_budget_between_requests(client, shop, django_assert_num_queries):
    """Outside a test's transaction, as in production: the methods, their routes and health
    come from the process's copy while their change stamp stays (payments/stamps.py)."""
    fill_cart(client, "mug", "tea")
    client.get(reverse("checkout:checkout"))
    # The session, this checkout's orders, the cart's products, the stamp.
    with django_assert_num_queries(4):
        assert client.get(reverse("checkout:checkout")).status_code == 200


def test_pay_submit_query_budget(client, shop, django_assert_max_num_queries):
    fill_cart(client, "mug")
    tokens = checkout_form(client)
    # 54: the order-paid OrderEvent row; 55: the method code that labels the settled attempt;
    # 57: the receipt's outbox row (insert, read back); 58: the cart leaves out what this
    # checkout's order already paid for (checkout.selectors.cart_items); 61: the method's routes
    # read when the attempt is created and when it is sent, and the route try's timeline event
    with django_assert_max_num_queries(61):
        assert pay(client, tokens).status_code == 302


def test_page_weights(client, shop):
    fill_cart(client, "mug")
    pages = {"/": 6_000, reverse("checkout:checkout"): 10_000}
    for path, budget in pages.items():
        size = len(client.get(path).content)
        assert size < budget, f"{path} is {size} bytes (budget {budget})"
    assert (STATIC / "css" / "site.css").stat().st_size < 12_000
    # The checkout loads its own scripts only, and they stay small; no script anywhere grows
    # past 8 KB unminified.
    page = client.get(reverse("checkout:checkout")).content.decode()
    loaded = re.findall(r'<script src="/static/(js/[\w.]+\.js)"', page)
    assert loaded, "the checkout page loads its script"
    assert sum((STATIC / name).stat().st_size for name in loaded) < 6_000
    for script in (STATIC / "js").glob("*.js"):
        assert script.stat().st_size < 8_000, script.name


def test_product_list_reverses_no_url_and_renders_one_token_and_label_per_page(client, shop):
    """Rendering and reversing were most of the product list's time: per product, a form with
    its own CSRF token, a reversed URL and a translated label. Now one form for the page and
    the header's URLs are reversed once per process."""
    from django.urls.resolvers import URLResolver

    for i in range(30):
        ProductFactory(sku=f"extra-{i}")
    client.get("/")  # the first page of the process reverses the header's URLs once
    calls = []
    original = URLResolver._reverse_with_prefix

    def counting(self, lookup_view, _prefix, *args, **kwargs):
        calls.append(lookup_view)
        return original(self, lookup_view, _prefix, *args, **kwargs)

    URLResolver._reverse_with_prefix = counting
    try:
        page = client.get("/").content.decode()
    finally:
        URLResolver._reverse_with_prefix = original
    assert calls == []
    # 32 products: the add-to-cart form and the language form, each one token.
    assert page.count('name="csrfmiddlewaretoken"') == 2
    assert page.count('name="sku" value="') == 32
    assert page.count('action="/cart/update/"') == 1
    assert page.count(">Add to cart</button>") == 32


def test_a_link_follows_the_script_prefix():
    from django.template import Context, Template
    from django.urls import set_script_prefix

    template = Template("{% load links %}{% link 'checkout:cart' %}")
    assert template.render(Context()) == "/cart/"
    set_script_prefix("/shop/")
    try:
        assert template.render(Context()) == "/shop/cart/"
    finally:
        set_script_prefix("/")


def test_order_status_page_query_budget(client, shop, django_assert_num_queries):
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client))
    assert response.status_code == 302
    status_page = response["Location"]
    # Exactly: the session; the order; its lines; its latest attempt with its method; that
    # attempt's refunds; the order's refund requests. Whether a refund may be asked for is
    # answered from what was read (the paid attempt, the requests), not by queries of its own.
    with django_assert_num_queries(6):
        assert client.get(status_page).status_code == 200


def test_the_header_counts_the_cart_on_every_page(client, shop):
    """The header's count: lazy on most pages (context_processors.cart), the checkout's own
    cart on the checkout page; the same number either way."""
    fill_cart(client, "mug", "tea", "tea")
    badge = '<span class="badge">3 items</span>'
    for path in ("/", reverse("checkout:cart"), reverse("checkout:checkout")):
        assert badge in client.get(path).content.decode(), path
