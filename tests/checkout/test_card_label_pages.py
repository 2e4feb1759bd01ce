"""Issue 14: the pages name the card money came from and goes back to ("Visa ···4242"), and
a payment with no card by its method ("Alipay"): before a withdrawal is confirmed, on the
withdrawal's page, the money-back pages and the order page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from payments import services
from payments.gateways import RefundResult
from tests.factories import OrderFactory
from tests.payments.test_withdrawals import top_up

pytestmark = pytest.mark.django_db
URL = "/wallet/withdraw/"


def items(html: str, css_class: str) -> list[str]:
    block = re.search(rf'<ul class="{css_class}">(.*?)</ul>', html, re.S).group(1)
    return [re.sub(r"\s+", " ", li).strip() for li in re.findall(r"<li>(.*?)</li>", block, re.S)]


def row_headers(html: str) -> list[str]:
    return re.findall(r'<th scope="row">([^<]*)</th>', html)


@pytest.fixture
def funded(shop, alice, client):
    """$30.00 topped up with the simulator's Visa 4242, then $20.00 with Alipay."""
    card = top_up(alice, 3000, shop, days_ago=10)
    alipay = top_up(alice, 2000, shop, days_ago=5, method="alipay")
    client.force_login(alice)
    return card, alipay


def test_review_and_status_pages_say_where_each_part_goes(
    client, funded, django_capture_on_commit_callbacks
):
    review = client.post(URL, {"step": "review", "amount": "42.00"})
    assert review.status_code == 200
    text = review.content.decode()
    assert items(text, "withdrawal-parts") == [
        "$30.00 to Visa ···4242, usually 5–10 business days",
        "$12.00 to Alipay, usually within minutes",
    ]
    key = re.search(r'name="idempotency_key" value="([^"]+)"', text).group(1)
    form = {"step": "confirm", "amount": "42.00", "idempotency_key": key}
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(URL, form)
    assert done.status_code == 302
    status = client.get(done["Location"]).content.decode()
    # Parts are listed by their key; both names appear, each once, and nothing says "Card".
    assert sorted(row_headers(status)) == ["Alipay", "Visa ···4242"]


def test_a_mastercard_top_up_is_named_by_its_own_brand_and_digits(client, shop, alice):
    top_up(alice, 1000, shop, token="pm_card_mastercard")
    client.force_login(alice)
    text = client.post(URL, {"step": "review", "amount": "10"}).content.decode()
    assert items(text, "withdrawal-parts") == [
        "$10.00 to Mastercard ···4444, usually 5–10 business days"
    ]


@pytest.fixture
def card_refund(shop, alice, django_capture_on_commit_callbacks):
    """Alice's $24.00 order paid with the simulator's Visa 4242, $5.00 of it refunded."""
    with django_capture_on_commit_callbacks(execute=True):
        order = OrderFactory(user=alice, email="alice@example.com", total=2400)
        attempt = services.attempt_pay(
            order=order,
            method=shop["methods"]["card"],
            idempotency_key=f"pay-{order.pk}",
            payment_method="pm_card_visa",
        )
        made = services.refund_create(
            attempt=attempt,
            amount=500,
            destination="original",
            reason="asked",
            actor="staff:carol@example.com",
            idempotency_key="r1",
        )
        services.refund_settle(refund=made, result=RefundResult(False, "re_1", pending=True))
    return made


def test_money_back_pages_and_the_order_page_name_the_card(client, alice, card_refund):
    client.force_login(alice)
    detail = client.get(reverse("checkout:money_back", args=[card_refund.public_id]))
    assert "<dt>Paid with</dt><dd>Visa ···4242</dd>" in detail.content.decode()
    listing = client.get(reverse("checkout:money_back_list")).content.decode()
    assert "<td>Visa ···4242</td>" in listing
    order = card_refund.attempt.order
    page = client.get(reverse("checkout:order_status", args=[order.number])).content.decode()
    assert "Paid with Visa ···4242</th>" in page


def test_a_stranger_sees_neither_the_refund_nor_the_card(client, mallory, card_refund):
    client.force_login(mallory)
    detail = client.get(reverse("checkout:money_back", args=[card_refund.public_id]))
    assert detail.status_code == 404
    listing = client.get(reverse("checkout:money_back_list")).content.decode()
    assert "4242" not in listing
