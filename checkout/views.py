from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.client_ip import client_ip
from payments import risk
from payments import services as payment_services
from payments.arrival import money_back
from payments.failures import Failure, failure_for, paused_guidance
from payments.gateways import GatewayError
from payments.models import PaymentAttempt, PaymentMethod
from payments.selectors import (
    Alternative,
    alternatives_for,
    confirmation_deadline,
    methods_for_amount,
    wallet_split_offer,
)

from . import refund_requests, services
from .errors import page_answer_for
from .forms import AddToCartForm, CheckoutForm, RefundRequestForm
from .help import articles_for
from .models import Order, Product
from .selectors import (
    CONFIRMING,
    Cart,
    Confirming,
    cart_get,
    confirming_payment,
    order_visible_to,
)

CHECKOUT_TOKEN_KEY = services.CHECKOUT_TOKEN_KEY


def product_list(request: HttpRequest) -> HttpResponse:
    products = Product.objects.filter(active=True).order_by("name_en")
    return render(request, "checkout/product_list.html", {"products": products})


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("That product could not be added. Please try again."))
        return redirect("checkout:product_list")
    sku, quantity = form.cleaned_data["sku"], form.cleaned_data["quantity"]
    try:
        if quantity is None:
            services.cart_add(session=request.session, sku=sku)
            messages.success(request, _("Added to your cart."))
        else:
            services.cart_set(session=request.session, sku=sku, quantity=quantity)
    except services.ProductUnavailable:
        messages.error(request, _("Sorry, that product is no longer available."))
    if request.POST.get("next") == "cart":
        return redirect("checkout:cart")
    return redirect("checkout:product_list")


def cart(request: HttpRequest) -> HttpResponse:
    return render(request, "checkout/cart.html", {"cart": cart_get(request.session)})


BILLING_FIELDS = ("email", "full_name", "address_line1", "city", "postal_code", "country")


def _initial(request: HttpRequest, cart_obj: Cart) -> dict[str, str]:
    """A fresh form: this checkout's token, a new key, and what we already know of the buyer."""
    token = services.checkout_visit_start(session=request.session)
    initial = {"checkout_token": token, "idempotency_key": uuid.uuid4().hex}
    user = request.user
    if user.is_authenticated:
        initial |= {"email": user.email, "full_name": user.full_name}
    order = cart_obj.unpaid_order  # read with the cart: this token's order, if still unpaid
    if order is not None and order.checkout_token == token:
        # Coming back to an unpaid order (a link in an email, a second visit): nothing to retype.
        initial |= {
            field: getattr(order, field) for field in BILLING_FIELDS if getattr(order, field)
        }
    return initial


@dataclass(frozen=True)
class FailureBox:
    """What the failure box at the top of the page says and offers."""

    entry: Failure
    # The failed method, when trying it again can help.
    retry: PaymentMethod | None
    alternatives: list[Alternative]
    support_query: str
    # Help articles for this failure, offered before a person is.
    articles: list
    # While the risk rules would refuse any new payment: no way to pay is offered, and this
    # says why and until when, instead of the entry's guidance.
    paused: tuple[str, ...] = ()
    # The wallet part of the failed payment, given back to the wallet (minor units; 0: none).
    wallet_returned: int = 0

    @property
    def guidance(self) -> tuple:
        return self.paused or self.entry.guidance


def _failure_box(
    entry: Failure, *, attempt: PaymentAttempt | None, method: PaymentMethod, availability: list
) -> FailureBox:
    refusal = risk.refusal_for(attempt=attempt) if attempt is not None else None
    paused: tuple[str, ...] = ()
    if attempt is not None and refusal is not None:
        offered = []
        paused = paused_guidance(until=refusal.until, signed_in=attempt.user_id is not None)
    elif attempt is not None:
        offered = alternatives_for(attempt=attempt, entry=entry)
    else:
        why = gettext_lazy("Available now and not affected by this problem.")
        offered = [
            Alternative(a.method, why)
            for a in availability
            if a.available and a.method.pk != method.pk
        ]
    retry = next((alt.method for alt in offered if alt.method.pk == method.pk), None)
    # A pause is a security check whatever failed before it: its article, its appeal.
    code = "risk_refused" if paused else entry.code if entry.reveal else "generic_decline"
    query = {"code": code}
    if attempt is not None:
        query |= {"order": attempt.order.number, "attempt": str(attempt.public_id)}
    return FailureBox(
        entry=entry,
        retry=retry,
        alternatives=[alt for alt in offered if alt.method.pk != method.pk],
        support_query=urlencode(query),
        articles=articles_for(query["code"]),
        paused=paused,
        wallet_returned=attempt.wallet_amount if attempt is not None else 0,
    )


def _pause_on_arrival(request: HttpRequest, availability: list) -> FailureBox | None:
    """The paused failure box for a browser whose last failed payment left its buyer paused by
    the risk rules, or None. A browser that never paid here costs no query."""
    numbers = request.session.get(services.ORDERS_SESSION_KEY)
    if not numbers:
        return None
    last = (
        PaymentAttempt.objects.select_related("order", "method")
        .filter(order__number__in=numbers, status=PaymentAttempt.Status.FAILED)
        .order_by("-created_at")
        .first()
    )
    if last is None or risk.refusal_for(attempt=last) is None:
        return None
    entry = failure_for(last.failure_code, last.decline_code)
    return _failure_box(entry, attempt=last, method=last.method, availability=availability)


def _render_checkout(
    request: HttpRequest,
    form: CheckoutForm,
    cart_obj: Cart,
    availability: list,
    *,
    failure: FailureBox | None = None,
    confirming: Confirming | None = None,
    status: int = 200,
) -> HttpResponse:
    # With Stripe, card details are typed into Stripe's own Payment Element, never our form.
    stripe_card = any(
        a.method.kind == "card" and a.method.provider == "stripe" and a.available
        for a in availability
    )
    # With Adyen, without its web component, the card is typed on Adyen's hosted page: our page
    # shows no card field at all, so no card number is ever posted to us.
    adyen_card = not stripe_card and any(
        a.method.kind == "card" and a.method.provider == "adyen" and a.available
        for a in availability
    )
    card_open = any(a.method.kind == "card" and a.available for a in availability)
    if not card_open:
        # Server-rendered, so it holds without JavaScript: no card number can be typed (and
        # then sent along with another method) while no card payment can be made.
        form.fields["payment_method"].widget.attrs["disabled"] = True
    # Part of the wallet, the rest with the chosen method: offered to the signed-in owner whose
    # balance is more than 0 and less than the total. The box's value is the part shown here.
    split_wallet = wallet_split_offer(
        user=request.user, amount=cart_obj.total, currency=cart_obj.currency
    )
    context = {
        "form": form,
        "split": {"wallet": split_wallet, "rest": cart_obj.total - split_wallet}
        if split_wallet
        else None,
        "card_open": card_open,
        "cart": cart_obj,
        # The header's count, from the cart this page already read (context_processors.cart
        # would read the session's cart again).
        "cart_count": cart_obj.count,
        "availability": availability,
        "failure": failure,
        "waiting": _waiting_attempt(request),
        # While it is confirming no Pay is offered: another payment could charge twice.
        "confirming": confirming,
        "stripe_card": stripe_card,
        "adyen_card": adyen_card,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY if stripe_card else "",
    }
    return render(request, "checkout/checkout.html", context, status=status)


def _waiting_attempt(request: HttpRequest) -> PaymentAttempt | None:
    """This checkout's payment still waiting for the customer (3D Secure, Alipay, WeChat Pay):
    the page offers to finish it, and says that paying here cancels it."""
    token = request.session.get(CHECKOUT_TOKEN_KEY)
    if not token or not request.session.get(services.ORDERS_SESSION_KEY):
        return None  # nothing was ever paid from this browser: no query
    return (
        PaymentAttempt.objects.select_related("method")
        .filter(
            order__checkout_token=token,
            order__status=Order.Status.PENDING,
            status=PaymentAttempt.Status.REQUIRES_ACTION,
        )
        .first()
    )


def _scrubbed(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the customer typed, minus anything that looks like a card number: never echoed back."""
    kept = dict(data)
    if not kept.get("payment_method", "").startswith("pm_"):
        kept["payment_method"] = ""
    return kept


def _retry_form(form: CheckoutForm, data: Mapping[str, Any]) -> CheckoutForm:
    """A fresh form after a failed payment: everything typed kept, a new idempotency key."""
    initial = _scrubbed(data) | {"idempotency_key": uuid.uuid4().hex}
    return CheckoutForm(initial=initial, methods=list(form.methods.values()))


def _replayed_attempt(request: HttpRequest) -> PaymentAttempt | None:
    """The attempt an already-used Pay press made, if it belongs to this visitor.

    A refresh after paying, or a second press that arrives after the first finished, lands on
    the answer the first press got instead of on an empty cart. Only an attempt of the posted
    checkout's own order counts: a key from another order (another tab, a crafted post) must
    never send this checkout to that order's attempt.
    """
    key = request.POST.get("idempotency_key", "")
    token = request.POST.get("checkout_token", "")
    if not key or not token:
        return None
    attempt = (
        PaymentAttempt.objects.select_related("order")
        .filter(idempotency_key=key, order__checkout_token=token)
        .first()
    )
    if attempt is None or not _can_view(request, attempt.order):
        return None
    return attempt


def _where_next(attempt: PaymentAttempt) -> HttpResponse:
    """An attempt that did not fail: to its 3D Secure / wallet step, or to the order's status."""
    if attempt.status == PaymentAttempt.Status.REQUIRES_ACTION and attempt.action_url:
        return HttpResponseRedirect(attempt.action_url)
    return redirect("checkout:order_status", attempt.order.number)


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and (replayed := _replayed_attempt(request)) is not None:
        return _where_next(replayed)
    cart_obj = cart_get(request.session)
    if not cart_obj:
        token = request.POST.get("checkout_token", "")
        done = Order.objects.filter(checkout_token=token).exclude(status=Order.Status.PENDING)
        order = done.first() if token else None
        if order is not None and _can_view(request, order):
            # A second tab of a checkout that is already paid: show that, charge nothing.
            messages.info(request, _("This order is already paid. Here it is."))
            return redirect("checkout:order_status", order.number)
        messages.info(request, _("Your cart is empty. Add something before checking out."))
        return redirect("checkout:product_list")
    user = request.user if request.user.is_authenticated else None
    availability = methods_for_amount(amount=cart_obj.total, currency=cart_obj.currency, user=user)
    payable = [a.method for a in availability if a.available]
    confirming = confirming_payment(request.session, cart_obj)
    if request.method == "GET":
        form = CheckoutForm(initial=_initial(request, cart_obj), methods=payable)
        if confirming is not None:
            return _render_checkout(request, form, cart_obj, availability, confirming=confirming)
        box = _pause_on_arrival(request, availability)
        if box is not None:
            # Coming back while paused ("Back to checkout", a new tab): the same words as after
            # the failure, and no way to pay that a rule would refuse.
            offered = [replace(a, available=False, reason="risk_paused") for a in availability]
            return _render_checkout(request, form, cart_obj, offered, failure=box)
        return _render_checkout(request, form, cart_obj, availability)

    if confirming is not None and confirming.added:
        # A page from before items were added: they are not paid for (nor is the confirming
        # order's Pay page shown as if they were) until that payment settles.
        form = CheckoutForm(initial=_initial(request, cart_obj), methods=payable)
        return _render_checkout(
            request, form, cart_obj, availability, confirming=confirming, status=409
        )
    posted = request.POST.copy()
    if switch := posted.get("switch_method"):
        # "Pay another way" / "Try again" buttons in the failure box: the customer's own choice.
        posted["method"] = switch
    form = CheckoutForm(posted, methods=payable)
    if not form.is_valid():
        # Nothing was sent anywhere: the same form comes back with its errors and its key.
        form.data = _scrubbed(posted.dict())
        return _render_checkout(request, form, cart_obj, availability, status=400)

    def failed(entry: Failure, status: int, attempt: PaymentAttempt | None = None) -> HttpResponse:
        """The same page again: what went wrong, what to do, everything typed kept."""
        retry = _retry_form(form, posted.dict())
        box = _failure_box(
            entry,
            attempt=attempt,
            method=form.cleaned_data["method_obj"],
            availability=availability,
        )
        offered = availability
        if box.paused:
            # Paused by the risk rules: the form offers no method either.
            offered = [replace(a, available=False, reason="risk_paused") for a in availability]
        return _render_checkout(request, retry, cart_obj, offered, failure=box, status=status)

    data = form.cleaned_data
    try:
        outcome = services.checkout_pay(
            session=request.session,
            cart=cart_obj,
            checkout_token=data["checkout_token"],
            idempotency_key=data["idempotency_key"],
            method=data["method_obj"],
            payment_method=data["payment_method"],
            email=data["email"],
            billing=form.billing(),
            user=user,
            language=get_language() or "en",
            return_url_for=lambda order: reverse("checkout:order_status", args=[order.number]),
            client_ip=client_ip(request),
            wallet_amount=data.get("wallet_amount") or 0,
        )
    except payment_services.PaymentInProgress as exc:
        # Its status page says how the payment that is still being confirmed stands.
        return redirect("checkout:order_status", exc.attempt.order.number)
    except payment_services.OrderNotPayable as exc:
        token = request.session.pop(CHECKOUT_TOKEN_KEY, None) or data["checkout_token"]
        paid = Order.objects.filter(checkout_token=token, status=Order.Status.PAID).first()
        if paid is not None and _can_view(request, paid):
            # Paid meanwhile (another tab, or the step the customer had left open): show it.
            services.cart_clear(session=request.session)
            messages.info(request, _("This order is already paid. Here it is."))
            return redirect("checkout:order_status", paid.number)
        messages.info(request, page_answer_for(exc).message)
        return redirect("checkout:product_list")
    except payment_services.MethodUnavailable as exc:
        # The failure box: the catalog's words and guidance, and the other methods to choose.
        wallet = exc.reason == "wallet_insufficient"
        entry = failure_for("wallet_insufficient" if wallet else "method_unavailable")
        return failed(entry, page_answer_for(exc).status)
    except (payment_services.PaymentError, services.CheckoutError) as exc:
        # Something changed underneath (the key's request, the total, the cart): the API's
        # words for it, and the checkout afresh.
        messages.error(request, page_answer_for(exc).message)
        return redirect("checkout:checkout")
    attempt = outcome.attempt
    if attempt.status == PaymentAttempt.Status.FAILED:
        return failed(failure_for(attempt.failure_code, attempt.decline_code), 402, attempt)
    if attempt.is_paid:
        services.cart_clear(session=request.session)
        request.session.pop(CHECKOUT_TOKEN_KEY, None)
    return _where_next(attempt)


def _can_view(request: HttpRequest, order: Order, key: str | None = None) -> bool:
    """The one rule (checkout.selectors.order_visible_to); the key is the emailed link's."""
    return order_visible_to(
        order=order,
        user=request.user,
        session=request.session,
        key=request.GET.get("key", "") if key is None else key,
    )


def order_status(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(Order.objects.prefetch_related("lines"), number=number)
    if not _can_view(request, order):
        # The same answer as a number that does not exist: order numbers are not an oracle.
        raise Http404
    if order.is_payable is False and order.checkout_token == request.session.get(
        CHECKOUT_TOKEN_KEY
    ):
        services.cart_clear(session=request.session)
        request.session.pop(CHECKOUT_TOKEN_KEY, None)
    attempt = order.attempts.select_related("method").first()
    returned = request.GET.get("payment_intent", "")
    # Adyen's return names no payment, only its opaque redirectResult (for its waiting attempt).
    adyen_back = bool(
        attempt is not None and attempt.provider == "adyen" and request.GET.get("redirectResult")
    )
    # Back from Stripe's 3D Secure or wallet page (its return_url): a GET asks nobody and
    # writes nothing. The page offers "Check my payment now", a POST that the status script
    # sends at once; without JavaScript the button, the webhook and reconciliation still do.
    check_now = bool(
        attempt is not None
        and attempt.status == PaymentAttempt.Status.REQUIRES_ACTION
        and ((returned and returned == attempt.provider_reference) or adyen_back)
    )
    failure = None
    if attempt and attempt.status in (PaymentAttempt.Status.FAILED, PaymentAttempt.Status.CANCELED):
        failure = failure_for(attempt.failure_code or "canceled", attempt.decline_code)
    confirm_by = None
    if attempt is not None and attempt.status in CONFIRMING:
        # Why no other way is offered, and until when (the checkout page says the same).
        confirm_by = confirmation_deadline(attempt)
    return render(
        request,
        "checkout/order_status.html",
        {
            "order": order,
            "attempt": attempt,
            "failure": failure,
            "check_now": check_now,
            "confirm_by": confirm_by,
            **_money_back_context(order, attempt, request.GET.get("key", "")),
        },
    )


def _money_back_context(
    order: Order, attempt: PaymentAttempt | None, key: str, form: RefundRequestForm | None = None
) -> dict[str, Any]:
    """The order page's refunds (each with its step and link) and refund requests, and the form
    to ask for one while the policy window is open."""
    now = timezone.now()
    refunds = list(attempt.refunds.all()) if attempt is not None else []
    requests = list(order.refund_requests.select_related("refund"))
    can_ask = refund_requests.refund_request_can_open(
        order, now, attempt=attempt, requests=requests
    )
    if form is None and can_ask:
        form = RefundRequestForm(currency=order.currency)
    return {
        "page_key": key,
        "refund_rows": [money_back(r, now=now, top_up=order.is_wallet_top_up) for r in refunds],
        "refund_requests": requests,
        "refund_request_form": form
        or (RefundRequestForm(currency=order.currency) if can_ask else None),
        "refund_window_ends": refund_requests.refund_request_window_ends(order)
        if can_ask
        else None,
    }


@require_POST
def order_refund_request(request: HttpRequest, number: str) -> HttpResponse:
    """Ask for a refund of a paid order (Post/Redirect/Get); what was typed stays on an error."""
    order = get_object_or_404(Order.objects.prefetch_related("lines"), number=number)
    key = request.POST.get("key", "")
    if not _can_view(request, order, key=key):
        raise Http404
    url = reverse("checkout:order_status", args=[order.number])
    url = f"{url}?{urlencode({'key': key})}" if key else url
    form = RefundRequestForm(request.POST, currency=order.currency)
    status = 400
    if form.is_valid():
        try:
            refund_requests.refund_request_open(
                order=order,
                reason=form.cleaned_data["reason"],
                user=request.user,
                amount=form.cleaned_data["amount"],
            )
        except refund_requests.CheckoutError as exc:
            answer = page_answer_for(exc)
            form.add_error(None, answer.message)
            status = answer.status
        else:
            messages.success(request, _("Your refund request is sent. We will answer it by email."))
            return redirect(url + "#refund-requests")
    attempt = order.attempts.select_related("method").first()
    context = {
        "order": order,
        "attempt": attempt,
        "failure": None,
        "check_now": False,
        "confirm_by": None,
        **_money_back_context(order, attempt, key, form),
    }
    return render(request, "checkout/order_status.html", context, status=status)


@require_POST
def order_check_payment(request: HttpRequest, number: str) -> HttpResponse:
    """ "Check my payment now" after the provider's page: ask the provider, then show the status
    (Post/Redirect/Get, so a refresh asks nothing again)."""
    order = get_object_or_404(Order, number=number)
    key = request.POST.get("key", "")
    if not _can_view(request, order, key=key):
        raise Http404
    services.order_return_check(
        order=order,
        payment_intent=request.POST.get("payment_intent", ""),
        redirect_result=request.POST.get("redirect_result", ""),
    )
    url = reverse("checkout:order_status", args=[order.number])
    return redirect(f"{url}?{urlencode({'key': key})}" if key else url)


@require_POST
def order_resume(request: HttpRequest, number: str) -> HttpResponse:
    """Back to the checkout for an unpaid order: its items, its details, the same order."""
    order = get_object_or_404(Order.objects.prefetch_related("lines"), number=number)
    if not _can_view(request, order, key=request.POST.get("key", "")):
        raise Http404
    if not order.is_payable or order.kind != Order.Kind.PURCHASE:
        messages.info(request, _("This order is already paid or closed."))
        return redirect("checkout:order_status", order.number)
    return _back_to_checkout(request, order)


def _back_to_checkout(request: HttpRequest, order: Order) -> HttpResponse:
    """This browser's checkout becomes the unpaid order's: its items, its details, its token."""
    try:
        services.checkout_resume(session=request.session, order=order)
    except services.ProductUnavailable:
        messages.error(request, _("Sorry, that product is no longer available."))
        return redirect("checkout:order_status", order.number)
    request.session[CHECKOUT_TOKEN_KEY] = order.checkout_token
    return redirect("checkout:checkout")


@require_POST
def order_cancel_payment(request: HttpRequest, number: str) -> HttpResponse:
    """ "Pay another way": cancel the payment step this order is waiting on (at the provider
    first), then back to the checkout (or the top-up page) to choose again."""
    order = get_object_or_404(Order, number=number)
    if not _can_view(request, order, key=request.POST.get("key", "")):
        raise Http404
    waiting = order.attempts.filter(status=PaymentAttempt.Status.REQUIRES_ACTION).first()
    if waiting is not None:
        try:
            waiting = payment_services.attempt_cancel(
                attempt=waiting, actor=payment_services.customer_actor(request.user)
            )
        except GatewayError:
            messages.error(
                request,
                _(
                    "We could not cancel the unfinished payment right now, so you have not "
                    "been charged twice. Please try again in a minute."
                ),
            )
            return redirect("checkout:order_status", order.number)
        order.refresh_from_db()
    if waiting is not None and waiting.status != PaymentAttempt.Status.CANCELED:
        # Finished meanwhile (paid, or declined): the status page says which.
        return redirect("checkout:order_status", order.number)
    if not order.is_payable:
        return redirect("checkout:order_status", order.number)
    messages.info(request, _("The unfinished payment was canceled. You were not charged."))
    if order.kind == Order.Kind.WALLET_TOP_UP:
        return redirect("checkout:wallet_top_up")
    return _back_to_checkout(request, order)


@require_http_methods(["GET", "POST"])
def order_no_reminders(request: HttpRequest, number: str) -> HttpResponse:
    """Stop reminder emails for an order (the link in the reminder itself)."""
    order = get_object_or_404(Order, number=number)
    key = request.POST.get("key") if request.method == "POST" else request.GET.get("key", "")
    if not _can_view(request, order, key=key or ""):
        raise Http404
    if request.method == "POST":
        order = services.order_reminders_stop(order=order)
        return render(request, "checkout/no_reminders.html", {"order": order, "done": True})
    return render(request, "checkout/no_reminders.html", {"order": order, "key": key})


def order_status_json(request: HttpRequest, number: str) -> JsonResponse:
    """What the status page polls: cheap, and it works whichever process settled the payment."""
    order = get_object_or_404(Order, number=number)
    if not _can_view(request, order):
        raise Http404
    attempt = order.attempts.values_list("status", flat=True).first() or ""
    response = JsonResponse({"order": order.number, "status": order.status, "attempt": attempt})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def order_refund_request_withdraw(request: HttpRequest, number: str) -> HttpResponse:
    """Take back an open refund request (Post/Redirect/Get)."""
    order = get_object_or_404(Order, number=number)
    key = request.POST.get("key", "")
    if not _can_view(request, order, key=key):
        raise Http404
    url = reverse("checkout:order_status", args=[order.number])
    url = f"{url}?{urlencode({'key': key})}" if key else url
    open_request = order.refund_requests.filter(status="open").first()
    if open_request is None:
        messages.info(request, _("This refund request has already been answered."))
        return redirect(url + "#refund-requests")
    try:
        refund_requests.refund_request_withdraw(request=open_request)
    except refund_requests.CheckoutError:  # answered meanwhile
        messages.info(request, _("This refund request has already been answered."))
    else:
        messages.success(request, _("Your refund request is withdrawn."))
    return redirect(url + "#refund-requests")
