"""The Stripe gateway through the real stripe-python library, over a local fake transport."""

from __future__ import annotations

import pytest
import stripe

from checkout.models import Order
from payments import services
from payments.gateways import stripe as stripe_gateway
from payments.models import AttemptStatus, PaymentAttempt, PaymentMethod
from tests.factories import OrderFactory

from .fake_stripe import FakeStripe

pytestmark = pytest.mark.django_db
S = AttemptStatus


@pytest.fixture
def fake(settings, monkeypatch, shop):
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    PaymentMethod.objects.exclude(kind="wallet").update(provider="stripe")
    transport = FakeStripe()
    monkeypatch.setattr(
        stripe_gateway,
        "make_client",
        lambda: stripe.StripeClient("sk_test_fake", max_network_retries=2, http_client=transport),
    )
    return transport


def pay(token="pm_card_visa", key="k1", method="card", order=None):
    order = order or OrderFactory()
    return services.attempt_pay(
        order=order,
        method=PaymentMethod.objects.get(code=method),
        idempotency_key=key,
        payment_method=token,
        return_url=f"/orders/{order.number}/",
    )


def test_success_sends_our_attempt_key_and_amount(fake):
    attempt = pay()
    assert attempt.status == S.SUCCEEDED
    assert attempt.provider_reference == "pi_fake_0001"
    lookup, sent = fake.requests
    assert lookup["path"] == "/v1/payment_methods/pm_card_visa"
    assert attempt.card_fingerprint == "fp_visa"
    assert sent["key"] == f"attempt-{attempt.public_id}"
    assert sent["params"]["amount"] == str(attempt.amount)
    assert sent["params"]["currency"] == "usd"
    assert sent["params"]["confirm"] == "true"
    assert sent["params"]["allowed_payment_method_types[0]"] == "card"
    assert sent["params"]["return_url"].endswith(f"/orders/{attempt.order.number}/")
    assert Order.objects.get().status == Order.Status.PAID


def test_card_error_becomes_a_failed_attempt_with_its_codes(fake):
    attempt = pay("pm_card_visa_chargeDeclinedInsufficientFunds")
    assert attempt.status == S.FAILED
    assert (attempt.failure_code, attempt.decline_code) == ("card_declined", "insufficient_funds")
    assert attempt.provider_reference == "pi_fake_0001"
    assert attempt.failure_category == "another_method"


def test_three_d_secure_gives_stripes_redirect(fake):
    attempt = pay("pm_card_authenticationRequired")
    assert attempt.status == S.REQUIRES_ACTION
    assert attempt.action_url == "https://stripe.test/3ds/pi_fake_0001"


@pytest.mark.parametrize(
    ("method", "url"),
    [("alipay", "https://stripe.test/alipay/"), ("wechat_pay", "https://stripe.test/wx/")],
)
def test_redirect_and_qr_methods(fake, method, url):
    attempt = pay("", method=method)
    assert attempt.status == S.REQUIRES_ACTION and attempt.action_url.startswith(url)
    params = fake.requests[-1]["params"]
    assert params["payment_method_data[type]"] == method
    if method == "wechat_pay":
        assert params["payment_method_options[wechat_pay][client]"] == "web"


def test_timeout_after_the_librarys_retries_is_unknown_and_retries_reuse_the_key(fake):
    fake.fail_next = ["timeout", "timeout", "timeout"]
    attempt = pay()
    assert attempt.status == S.UNKNOWN
    charges = [r for r in fake.requests if r["path"] == "/v1/payment_intents"]
    keys = {r["key"] for r in charges}
    assert len(charges) == 3 and keys == {f"attempt-{attempt.public_id}"}


def test_a_retry_that_gets_through_is_a_replay_not_a_second_charge(fake):
    fake.fail_next = ["500"]
    attempt = pay()
    assert attempt.status == S.SUCCEEDED
    assert fake.creates == 1


def test_server_error_after_retries_is_unknown_never_failed(fake):
    fake.fail_next = ["500", "500", "500"]
    attempt = pay()
    assert attempt.status == S.UNKNOWN
    assert Order.objects.get().status == Order.Status.PENDING


def test_unknown_payment_method_is_a_fix_details_failure(fake):
    attempt = pay("pm_does_not_exist")
    assert attempt.status == S.FAILED
    assert attempt.failure_category == "fix_details"


def test_retrieve_reads_the_intent(fake):
    attempt = pay("pm_sim_processing")
    assert attempt.status == S.PROCESSING
    fake.intents[attempt.provider_reference]["status"] = "succeeded"
    result = stripe_gateway.StripeGateway().retrieve(attempt.provider_reference)
    services.attempt_apply_result(attempt=attempt, result=result, actor="provider:stripe")
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED


def test_checkout_page_pays_through_stripe_and_never_takes_a_card_number(fake, client):
    from tests.checkout.helpers import checkout_form, fill_cart
    from tests.checkout.helpers import pay as pay_page

    fill_cart(client, "mug")
    refused = pay_page(client, checkout_form(client), payment_method="4242 4242 4242 4242")
    assert refused.status_code == 400
    assert "Card details could not be read." in refused.content.decode()
    assert not fake.requests
    paid = pay_page(client, checkout_form(client), payment_method="pm_card_visa")
    assert paid.status_code == 302
    assert Order.objects.get().status == Order.Status.PAID
    assert fake.creates == 1


def test_refund_goes_to_stripe_with_a_key_of_its_own(fake):
    attempt = pay()
    refund = services.refund_create(
        attempt=attempt, amount=500, destination="original", reason="asked", actor="staff:carol"
    )
    assert refund.status == "succeeded" and refund.provider_reference == "re_fake_1"
    sent = fake.requests[-1]
    assert sent["path"] == "/v1/refunds" and sent["key"] == f"refund-{refund.public_id}"
    assert sent["params"] == {
        "payment_intent": "pi_fake_0001",
        "amount": "500",
        "metadata[refund_key]": f"refund-{refund.public_id}",
    }


def test_checkout_page_uses_stripes_payment_element(fake, client, settings):
    from django.urls import reverse

    from tests.checkout.helpers import fill_cart

    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_fake"
    fill_cart(client, "mug")
    body = client.get(reverse("checkout:checkout")).content.decode()
    assert '<script src="https://js.stripe.com/v3/"></script>' in body
    assert 'data-publishable-key="pk_test_fake"' in body and 'data-amount="1200"' in body
    # No card field of ours: only the hidden PaymentMethod id Stripe's element fills in.
    assert '<input type="hidden" name="payment_method" id="id_payment_method" value="">' in body
    assert "Card number" not in body


def test_back_from_three_d_secure_reads_stripe_at_once(fake, client):
    from django.urls import reverse

    from tests.checkout.helpers import checkout_form, fill_cart
    from tests.checkout.helpers import pay as pay_page

    fill_cart(client, "mug")
    response = pay_page(
        client, checkout_form(client), payment_method="pm_card_authenticationRequired"
    )
    attempt = PaymentAttempt.objects.get()
    assert response["Location"] == "https://stripe.test/3ds/pi_fake_0001"
    fake.intents["pi_fake_0001"]["status"] = "succeeded"  # the customer passed the challenge
    status_url = reverse("checkout:order_status", args=[attempt.order.number])
    # The return GET only offers the check (a GET writes nothing); the page's script, or the
    # customer's press without JavaScript, posts it and Stripe is read at once.
    page = client.get(status_url, {"payment_intent": "pi_fake_0001"})
    assert "Check my payment now" in page.content.decode()
    check = reverse("checkout:order_check_payment", args=[attempt.order.number])
    response = client.post(check, {"payment_intent": "pi_fake_0001"})
    assert response["Location"] == status_url
    assert "Paid — thank you!" in client.get(status_url).content.decode()
    attempt.refresh_from_db()
    assert attempt.status == S.SUCCEEDED


def test_a_pending_refund_settles_by_webhook(
    fake, settings, client, django_capture_on_commit_callbacks
):
    import json

    settings.STRIPE_WEBHOOK_SECRET = "whsec_test"
    attempt = pay()
    fake.refund_status = "pending"
    refund = services.refund_create(
        attempt=attempt, amount=500, destination="original", reason="asked", actor="staff:carol"
    )
    assert refund.status == "pending" and refund.provider_reference == "re_fake_1"
    attempt.refresh_from_db()
    assert (attempt.status, attempt.refunded_amount) == (S.SUCCEEDED, 500)  # reserved

    def deliver(status, event_id):
        body = json.dumps(
            {
                "id": event_id,
                "type": "refund.updated",
                "data": {"object": {"id": "re_fake_1", "object": "refund", "status": status}},
            }
        )
        header = stripe.WebhookSignature.generate_signature_header(body, "whsec_test")
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/payments/webhooks/stripe/",
                body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )

    assert deliver("succeeded", "evt_r1").status_code == 200
    refund.refresh_from_db()
    attempt.refresh_from_db()
    assert refund.status == "succeeded"
    assert attempt.status == S.PARTIALLY_REFUNDED
    deliver("failed", "evt_r2")  # a late, contradicting event changes nothing
    refund.refresh_from_db()
    assert refund.status == "succeeded"


def test_a_failed_fingerprint_lookup_does_not_block_the_payment(fake):
    fake.payment_methods_down = True
    attempt = pay()
    assert attempt.status == S.SUCCEEDED and attempt.card_fingerprint == ""
