"""The walking skeleton through the Django test client: pick, pay, see the order, get a receipt."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from checkout.models import Order
from payments.models import PaymentAttempt, PaymentEvent, SimulatedCharge

from .helpers import BILLING, checkout_form, fill_cart, pay

pytestmark = pytest.mark.django_db


def test_product_list_shows_products_with_prices(client, shop):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Mug" in body and "$12.00" in body
    assert "Tea" in body and "$18.50" in body


def test_add_to_cart_and_checkout_shows_summary_and_amount_on_pay_button(client, shop):
    fill_cart(client, "mug", "mug", "tea")
    response = client.get(reverse("checkout:checkout"))
    body = response.content.decode()
    assert "2 × Mug" in body
    assert "Pay $42.50" in body  # 2 x 12.00 + 18.50


def test_empty_cart_redirects_to_products_with_a_message(client, shop):
    response = client.get(reverse("checkout:checkout"), follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "Your cart is empty" in response.content.decode()


def test_successful_payment_pays_order_and_sends_receipt(
    client, shop, django_capture_on_commit_callbacks
):
    fill_cart(client, "mug")
    tokens = checkout_form(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = pay(client, tokens)
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("checkout:order_status", args=[order.number])
    assert order.status == Order.Status.PAID and order.paid_at is not None
    assert order.total == 1200 and order.email == BILLING["email"]
    attempt = order.attempts.get()
    assert attempt.status == PaymentAttempt.Status.SUCCEEDED
    assert attempt.idempotency_key == tokens["idempotency_key"]
    kinds = list(attempt.events.values_list("kind", flat=True))
    assert kinds[0] == PaymentEvent.Kind.CREATED and PaymentEvent.Kind.ORDER_PAID in kinds

    page = client.get(response["Location"])
    assert "Paid — thank you!" in page.content.decode()
    assert len(mail.outbox) == 1
    receipt = mail.outbox[0]
    assert receipt.to == [BILLING["email"]]
    assert order.number in receipt.subject and "$12.00" in receipt.body
    order.refresh_from_db()
    assert order.receipt_sent_at is not None
    # The cart is emptied once the order is paid.
    assert client.session.get("cart") in (None, {})


def test_decline_rerenders_same_page_with_message_and_everything_typed(client, shop):
    fill_cart(client, "mug")
    tokens = checkout_form(client)
    response = pay(client, tokens, payment_method="4000 0000 0000 9995")
    assert response.status_code == 402
    body = response.content.decode()
    assert "The card does not have enough funds for this payment." in body
    assert "Use another card or payment method." in body
    for value in (BILLING["full_name"], BILLING["address_line1"], BILLING["city"]):
        assert f'value="{value}"' in body
    # The card number is never echoed back into the page.
    assert "4000 0000 0000 9995" not in body and "4000000000009995" not in body
    # The order stays payable and the attempt and its events are recorded.
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING
    attempt = order.attempts.get()
    assert attempt.status == PaymentAttempt.Status.FAILED
    assert (attempt.failure_code, attempt.decline_code) == ("card_declined", "insufficient_funds")
    assert attempt.failure_category == "another_method"
    assert attempt.events.filter(to_status="failed").exists()
    # A fresh idempotency key is issued for the next try; the checkout token stays.
    form = response.context["form"]
    assert form.initial["idempotency_key"] != tokens["idempotency_key"]
    assert form.initial["checkout_token"] == tokens["checkout_token"]


def test_retry_after_decline_pays_the_same_order(client, shop):
    fill_cart(client, "mug")
    tokens = checkout_form(client)
    declined = pay(client, tokens, payment_method="pm_card_visa_chargeDeclined")
    assert declined.status_code == 402
    retry_tokens = {
        **tokens,
        "idempotency_key": declined.context["form"].initial["idempotency_key"],
    }
    response = pay(client, retry_tokens)
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    assert sorted(order.attempts.values_list("status", flat=True)) == ["failed", "succeeded"]


def test_fraud_decline_is_shown_as_a_generic_decline(client, shop):
    fill_cart(client, "mug")
    response = pay(
        client, checkout_form(client), payment_method="pm_card_visa_chargeDeclinedStolenCard"
    )
    box = response.content.decode().split('id="payment-failure"')[1].split("</div>")[0]
    assert response.status_code == 402
    assert "Your bank did not approve this payment." in box
    assert "stolen" not in box.lower() and "lost" not in box.lower()
    assert PaymentAttempt.objects.get().decline_code == "stolen_card"  # support still sees it


def test_pressing_pay_twice_charges_once(client, shop):
    fill_cart(client, "mug")
    tokens = checkout_form(client)
    first = pay(client, tokens)
    second = pay(client, tokens)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Order.objects.count() == 1
    assert PaymentAttempt.objects.count() == 1
    assert SimulatedCharge.objects.count() == 1


def test_a_second_tab_with_the_same_checkout_does_not_pay_twice(client, shop):
    fill_cart(client, "mug")
    tab_one = checkout_form(client)
    tab_two = checkout_form(client)
    assert tab_one["checkout_token"] == tab_two["checkout_token"]
    assert pay(client, tab_one).status_code == 302
    response = pay(client, tab_two, payment_method="pm_card_visa")
    # The first tab paid the order: the second is shown it, and nothing is charged again.
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("checkout:order_status", args=[order.number])
    assert SimulatedCharge.objects.count() == 1
    assert Order.objects.get().status == Order.Status.PAID


def test_invalid_form_shows_errors_and_keeps_input(client, shop):
    fill_cart(client, "mug")
    tokens = checkout_form(client)
    response = pay(client, tokens, email="not-an-email", city="")
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="error-summary"' in body
    assert "Enter an email address like name@example.com." in body
    assert "Enter your city." in body
    assert 'value="not-an-email"' in body and f'value="{BILLING["full_name"]}"' in body
    assert 'aria-invalid="true"' in body
    assert not Order.objects.exists()


def test_unknown_card_number_is_refused_with_a_clear_message(client, shop):
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client), payment_method="4111 1111 1111 1111")
    assert response.status_code == 400
    body = response.content.decode()
    assert "real cards are never accepted" in body
    assert "4111" not in body
    assert not SimulatedCharge.objects.exists()


def test_card_number_failing_luhn_says_check_the_digits(client, shop):
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client), payment_method="4242424242424241")
    assert response.status_code == 400
    assert "This card number is not valid" in response.content.decode()


def test_three_d_secure_approve_then_paid(client, shop):
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client), payment_method="4000002760003184")
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == PaymentAttempt.Status.REQUIRES_ACTION
    assert response.status_code == 302 and response["Location"] == attempt.action_url
    page = client.get(attempt.action_url)
    assert "Verify this payment with your bank" in page.content.decode()
    done = client.post(attempt.action_url, {"decision": "approve"})
    order = Order.objects.get()
    assert done["Location"] == reverse("checkout:order_status", args=[order.number])
    assert order.status == Order.Status.PAID


def test_three_d_secure_then_decline_card(client, shop):
    fill_cart(client, "mug")
    pay(client, checkout_form(client), payment_method="pm_card_threeDSecureRequiredChargeDeclined")
    attempt = PaymentAttempt.objects.get()
    client.post(attempt.action_url, {"decision": "approve"})
    attempt.refresh_from_db()
    assert attempt.status == PaymentAttempt.Status.FAILED
    page = client.get(reverse("checkout:order_status", args=[attempt.order.number]))
    assert "Your bank did not approve this payment." in page.content.decode()
    assert "Back to checkout" in page.content.decode()


@pytest.mark.parametrize(
    ("decision", "code", "message"),
    [
        ("decline", "authentication_failed", "The verification with your bank was not completed"),
        ("abandon", "action_abandoned", "The payment was not completed"),
    ],
)
def test_alipay_redirect_decline_or_abandon_leaves_order_payable(
    client, shop, decision, code, message
):
    fill_cart(client, "tea")
    response = pay(client, checkout_form(client), method="alipay", payment_method="")
    attempt = PaymentAttempt.objects.get()
    assert response["Location"] == attempt.action_url
    assert "Approve the payment in Alipay" in client.get(attempt.action_url).content.decode()
    back = client.post(attempt.action_url, {"decision": decision}, follow=True)
    attempt.refresh_from_db()
    assert attempt.status == "failed" and attempt.failure_code == code
    assert message in back.content.decode()
    assert attempt.order.status == Order.Status.PENDING


def test_wechat_pay_approve_pays(client, shop):
    fill_cart(client, "tea")
    pay(client, checkout_form(client), method="wechat_pay", payment_method="")
    attempt = PaymentAttempt.objects.get()
    assert "Scan the QR code with WeChat Pay" in client.get(attempt.action_url).content.decode()
    client.post(attempt.action_url, {"decision": "approve"})
    assert Order.objects.get().status == Order.Status.PAID


def test_provider_timeout_says_confirming_not_failed(client, shop):
    fill_cart(client, "mug")
    response = pay(client, checkout_form(client), payment_method="pm_sim_timeout_then_succeeded")
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == PaymentAttempt.Status.UNKNOWN
    page = client.get(response["Location"]).content.decode()
    assert "you will not be charged twice" in page


def test_wallet_is_shown_unavailable_with_its_reason(client, shop):
    fill_cart(client, "mug")
    body = client.get(reverse("checkout:checkout")).content.decode()
    assert "Sign in to pay with your wallet." in body
    assert 'href="/accounts/login/?next=/checkout/"' in body
    assert 'value="wallet"' not in body


def test_method_switched_off_by_admin_is_refused(client, shop):
    fill_cart(client, "mug")
    tokens = checkout_form(client)
    shop["methods"]["card"].__class__.objects.filter(code="card").update(maintenance=True)
    response = pay(client, tokens)
    assert response.status_code == 400
    assert "That payment method cannot be used. Choose another one." in response.content.decode()
    assert not PaymentAttempt.objects.exists()


def test_signed_in_customer_gets_email_prefilled_and_owns_the_order(client, shop, alice):
    client.force_login(alice)
    fill_cart(client, "mug")
    response = client.get(reverse("checkout:checkout"))
    assert response.context["form"].initial["email"] == "alice@example.com"
    pay(client, checkout_form(client), email="alice@example.com")
    assert Order.objects.get().user == alice


def test_maintenance_shows_the_admins_message_and_when_it_ends(client, shop):
    from datetime import timedelta

    from django.utils import timezone

    from payments.models import PaymentMethod

    PaymentMethod.objects.filter(code="alipay").update(
        maintenance=True,
        maintenance_message_en="Alipay is being upgraded.",
        maintenance_message_zh="支付宝正在升级。",
        maintenance_until=timezone.now() + timedelta(hours=2),
    )
    fill_cart(client, "mug")
    body = client.get(reverse("checkout:checkout")).content.decode()
    assert "Under maintenance: Alipay is being upgraded." in body
    assert "Expected back by" in body
    assert 'value="alipay"' not in body
    client.cookies["django_language"] = "zh-hans"
    assert "维护中：支付宝正在升级。" in client.get(reverse("checkout:checkout")).content.decode()
