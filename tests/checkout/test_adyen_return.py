"""Back from Adyen's 3-D Secure page: the GET writes nothing; the "Check my payment now" POST
sends Adyen's redirectResult to /payments/details for this order's waiting Adyen attempt."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from checkout.models import Order
from payments.models import PaymentAttempt, PaymentMethod
from tests.checkout.helpers import checkout_form, fill_cart, pay
from tests.payments.fake_adyen import API_KEY, HMAC_KEY, MERCHANT, FakeAdyen

pytestmark = pytest.mark.django_db
S = PaymentAttempt.Status
THREE_DS = "adyen:test_4917610000000000|test_03|test_2030|test_737"


@pytest.fixture
def fake(settings, shop):
    server = FakeAdyen()
    settings.ADYEN_API_KEY = API_KEY
    settings.ADYEN_MERCHANT_ACCOUNT = MERCHANT
    settings.ADYEN_HMAC_KEY = HMAC_KEY
    settings.ADYEN_CHECKOUT_URL = server.url
    settings.ADYEN_HTTP_TIMEOUT_SECONDS = 1
    PaymentMethod.objects.filter(code="card").update(provider="adyen")
    yield server
    server.stop()


def three_d_secure(client: Client) -> PaymentAttempt:
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client), payment_method=THREE_DS)
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == S.REQUIRES_ACTION
    assert (
        response["Location"] == "https://checkoutshopper-test.adyen.com/threeDS2/FAKEPSP000000001"
    )
    return attempt


def details_calls(fake: FakeAdyen) -> int:
    return fake.count("POST", "/payments/details")


def test_the_return_get_writes_nothing_and_offers_the_check(client, fake):
    attempt = three_d_secure(client)
    url = reverse("checkout:order_status", args=[attempt.order.number])
    page = client.get(f"{url}?redirectResult={fake.redirect_result('FAKEPSP000000001')}")
    assert page.status_code == 200
    assert details_calls(fake) == 0
    body = page.content.decode()
    assert "Check my payment now" in body
    assert 'name="redirect_result" value="FAKEPSP000000001.ok"' in body
    attempt.refresh_from_db()
    assert attempt.status == S.REQUIRES_ACTION


def test_the_check_post_completes_it(client, fake):
    attempt = three_d_secure(client)
    number = attempt.order.number
    check = reverse("checkout:order_check_payment", args=[number])
    response = client.post(check, {"redirect_result": fake.redirect_result("FAKEPSP000000001")})
    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED
    assert Order.objects.get().status == Order.Status.PAID
    client.post(check, {"redirect_result": fake.redirect_result("FAKEPSP000000001")})
    assert details_calls(fake) == 1  # no longer waiting: nobody is asked again


def test_a_stranger_cannot_make_us_ask(client, fake, mallory):
    attempt = three_d_secure(client)
    stranger = Client()
    stranger.force_login(mallory)
    response = stranger.post(
        reverse("checkout:order_check_payment", args=[attempt.order.number]),
        {"redirect_result": fake.redirect_result("FAKEPSP000000001")},
    )
    assert response.status_code == 404
    assert details_calls(fake) == 0
    attempt.refresh_from_db()
    assert attempt.status == S.REQUIRES_ACTION


def test_with_adyen_the_page_has_no_card_field_and_pays_on_adyens_page(client, fake):
    fill_cart(client, "mug")
    page = client.get(reverse("checkout:checkout")).content.decode()
    assert "Adyen's secure payment page, never on this site" in page
    assert 'type="hidden" name="payment_method" id="id_payment_method" value=""' in page
    assert "Card number" not in page
    response = pay(client, checkout_form(client), payment_method="")
    assert response["Location"] == "https://test.adyen.link/PLFAKE0000000001"
    attempt = PaymentAttempt.objects.get()
    assert (attempt.status, attempt.payment_method_ref) == (S.REQUIRES_ACTION, "")
    # Even a number sent by hand is dropped: the hosted page takes the card, not us.
    (sent,) = fake.requests
    assert sent["path"] == "/paymentLinks" and "paymentMethod" not in sent["body"]


def test_a_card_number_posted_by_hand_is_never_stored_nor_sent(client, fake):
    fill_cart(client, "mug")
    pay(client, checkout_form(client), payment_method="4111 1111 1111 1111")
    attempt = PaymentAttempt.objects.get()
    assert attempt.payment_method_ref == ""
    assert "4111" not in str(fake.requests)
