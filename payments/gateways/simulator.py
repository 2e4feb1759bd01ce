"""The simulator: a stand-in provider that answers Stripe's own test payment-method ids the way
Stripe test mode does, so the same tests read the same against the real thing.

It keeps its side of the world in `SimulatedCharge` rows, one per idempotency key, and answers a
repeated key with its first answer, exactly as Stripe does. It never sees or stores a card number:
known test numbers are turned into their test ids before anything is saved.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from outbox.services import outbox_enqueue

from ..models import SimulatedCharge
from .base import (
    CardSummary,
    ChargeRequest,
    ChargeResult,
    InvalidPaymentDetails,
    Outcome,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RefundResult,
)


@dataclass(frozen=True)
class Scenario:
    outcome: Outcome
    failure_code: str = ""
    decline_code: str = ""
    # Simulator-only: the call itself fails, though the charge is recorded with `outcome`.
    timeout: bool = False
    outage: bool = False
    # Simulator-only: the provider refuses the request itself (like Stripe's invalid_request).
    rejected: bool = False


def _declined(decline_code: str, code: str = "card_declined") -> Scenario:
    return Scenario(Outcome.FAILED, failure_code=code, decline_code=decline_code)


# Stripe's test ids (see shared/reference/stripe.md) and what Stripe test mode answers.
SCENARIOS: dict[str, Scenario] = {
    "pm_card_visa": Scenario(Outcome.SUCCEEDED),
    "pm_card_mastercard": Scenario(Outcome.SUCCEEDED),
    "pm_card_visa_chargeDeclined": _declined("generic_decline"),
    "pm_card_visa_chargeDeclinedInsufficientFunds": _declined("insufficient_funds"),
    "pm_card_chargeDeclinedInsufficientFunds": _declined("insufficient_funds"),
    "pm_card_visa_chargeDeclinedLostCard": _declined("lost_card"),
    "pm_card_visa_chargeDeclinedStolenCard": _declined("stolen_card"),
    "pm_card_chargeDeclinedExpiredCard": Scenario(Outcome.FAILED, "expired_card", "expired_card"),
    "pm_card_chargeDeclinedIncorrectCvc": Scenario(
        Outcome.FAILED, "incorrect_cvc", "incorrect_cvc"
    ),
    "pm_card_chargeDeclinedProcessingError": Scenario(
        Outcome.FAILED, "processing_error", "processing_error"
    ),
    "pm_card_visa_chargeDeclinedVelocityLimitExceeded": _declined("card_velocity_exceeded"),
    "pm_card_radarBlock": _declined("fraudulent"),
    "pm_card_authenticationRequired": Scenario(Outcome.REQUIRES_ACTION),
    "pm_card_threeDSecure2Required": Scenario(Outcome.REQUIRES_ACTION),
    "pm_card_threeDSecureRequiredChargeDeclined": Scenario(
        Outcome.REQUIRES_ACTION, "card_declined", "generic_decline"
    ),
    # Simulator-only scenarios Stripe has no test id for.
    "pm_sim_timeout_then_succeeded": Scenario(Outcome.SUCCEEDED, timeout=True),
    "pm_sim_timeout_then_failed": Scenario(
        Outcome.FAILED, "processing_error", "processing_error", timeout=True
    ),
    "pm_sim_processing": Scenario(Outcome.PROCESSING),
    "pm_sim_outage": Scenario(Outcome.FAILED, outage=True),
    "pm_sim_rejected": Scenario(Outcome.FAILED, rejected=True),
    # Stripe's 4000000000005126: the payment succeeds, a refund of it fails later.
    "pm_sim_refund_fails": Scenario(Outcome.SUCCEEDED),
    # Simulator-only: the payment succeeds; the first refund call times out although the
    # refund was made (a replay of its key gets the answer)...
    "pm_sim_refund_timeout": Scenario(Outcome.SUCCEEDED),
    # ...or every refund call times out and nothing is ever refunded.
    "pm_sim_refund_no_answer": Scenario(Outcome.SUCCEEDED),
}

# Test card numbers and the test ids they stand for.
TEST_CARD_NUMBERS: dict[str, str] = {
    "4242424242424242": "pm_card_visa",
    "5555555555554444": "pm_card_mastercard",
    "4000000000000002": "pm_card_visa_chargeDeclined",
    "4000000000009995": "pm_card_visa_chargeDeclinedInsufficientFunds",
    "4000000000009987": "pm_card_visa_chargeDeclinedLostCard",
    "4000000000009979": "pm_card_visa_chargeDeclinedStolenCard",
    "4000000000000069": "pm_card_chargeDeclinedExpiredCard",
    "4000000000000127": "pm_card_chargeDeclinedIncorrectCvc",
    "4000000000000119": "pm_card_chargeDeclinedProcessingError",
    "4000000000006975": "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
    "4100000000000019": "pm_card_radarBlock",
    "4000002760003184": "pm_card_authenticationRequired",
    "4000000000003220": "pm_card_threeDSecure2Required",
    "4000008400001629": "pm_card_threeDSecureRequiredChargeDeclined",
    "4000000000005126": "pm_sim_refund_fails",
}

# The card behind each test id, as Stripe test mode describes it (brand, last four): the number
# the test id stands for above, or Stripe's documented card for ids with no number here.
TEST_CARDS: dict[str, tuple[str, str]] = {
    "pm_card_visa": ("visa", "4242"),
    "pm_card_mastercard": ("mastercard", "4444"),
    "pm_card_visa_chargeDeclined": ("visa", "0002"),
    "pm_card_visa_chargeDeclinedInsufficientFunds": ("visa", "9995"),
    "pm_card_chargeDeclinedInsufficientFunds": ("visa", "9995"),
    "pm_card_visa_chargeDeclinedLostCard": ("visa", "9987"),
    "pm_card_visa_chargeDeclinedStolenCard": ("visa", "9979"),
    "pm_card_chargeDeclinedExpiredCard": ("visa", "0069"),
    "pm_card_chargeDeclinedIncorrectCvc": ("visa", "0127"),
    "pm_card_chargeDeclinedProcessingError": ("visa", "0119"),
    "pm_card_visa_chargeDeclinedVelocityLimitExceeded": ("visa", "6975"),
    "pm_card_radarBlock": ("visa", "0019"),
    "pm_card_authenticationRequired": ("visa", "3184"),
    "pm_card_threeDSecure2Required": ("visa", "3220"),
    "pm_card_threeDSecureRequiredChargeDeclined": ("visa", "1629"),
    "pm_sim_refund_fails": ("visa", "5126"),
}

# Redirect and QR methods carry no card: the customer decides on the simulator's own page.
REDIRECT_KINDS = {"alipay": "pm_sim_alipay", "wechat_pay": "pm_sim_wechat_pay"}


def _luhn_ok(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def normalize_payment_method(method_kind: str, value: str) -> str:
    """Turn what the customer entered into a test id, or explain why it cannot be used.

    A card number is never returned or stored: only the test id it stands for.
    """
    if method_kind in REDIRECT_KINDS:
        return REDIRECT_KINDS[method_kind]
    raw = value.strip()
    digits = raw.replace(" ", "").replace("-", "")
    if not raw:
        raise InvalidPaymentDetails(_("Enter a test card number or a test payment method id."))
    if digits.isdigit():
        if digits in TEST_CARD_NUMBERS:
            return TEST_CARD_NUMBERS[digits]
        if not _luhn_ok(digits):
            raise InvalidPaymentDetails(
                _("This card number is not valid. Check the digits and try again."),
                code="incorrect_number",
            )
        raise InvalidPaymentDetails(
            _(
                "This is a demo shop: real cards are never accepted. "
                "Use a test card such as 4242 4242 4242 4242."
            )
        )
    if raw in SCENARIOS:
        return raw
    raise InvalidPaymentDetails(
        _("This test payment method id is not known. Try pm_card_visa."),
    )


# The simulator's routes: the first, and a second one for failover demos (issue 15). Each keeps
# its own charges (SimulatedCharge.provider) and its own references, like two providers would.
SIMULATOR_PROVIDERS = ("simulator", "simulator_b")
_REFERENCE_PREFIX = {"simulator": "sim_", "simulator_b": "simb_"}


class SimulatorGateway:
    def __init__(self, name: str = "simulator") -> None:
        if name not in SIMULATOR_PROVIDERS:
            raise ValueError(f"not a simulator route: {name!r}")
        self.name = name

    def _charges(self) -> QuerySet[SimulatedCharge]:
        return SimulatedCharge.objects.filter(provider=self.name)

    def card_fingerprint(self, payment_method: str) -> str:
        """Like Stripe's: one test card gives one value, whichever way it was entered."""
        if not payment_method.startswith("pm_card") or payment_method not in SCENARIOS:
            return ""
        return "sim_" + hashlib.sha256(payment_method.encode()).hexdigest()[:24]

    def card_summary(self, payment_method: str) -> CardSummary:
        brand, last4 = TEST_CARDS.get(payment_method, ("", ""))
        return CardSummary(self.card_fingerprint(payment_method), brand, last4)

    def charge(self, request: ChargeRequest) -> ChargeResult:
        replayed = self._charges().filter(idempotency_key=request.idempotency_key).first()
        if replayed is not None:
            # Like Stripe: a key already seen gets the recorded answer, and nothing happens again.
            return self._result(replayed)
        token = request.payment_method
        if request.method_kind in REDIRECT_KINDS:
            scenario = Scenario(Outcome.REQUIRES_ACTION)
        elif token in SCENARIOS:
            scenario = SCENARIOS[token]
        else:
            raise InvalidPaymentDetails(_("This test payment method id is not known."))
        if scenario.outage:
            # Nothing reached the "provider": a 5xx before any charge was recorded.
            raise ProviderUnavailable("simulator outage (HTTP 503)")
        if scenario.rejected:
            raise ProviderRejected("simulator refused the request (HTTP 400)")
        if scenario.timeout or scenario.outcome is Outcome.PROCESSING:
            # The provider finishes (or already finished) without us hearing: it will say so.
            # One transaction for the charge and its scheduled settle: the outbox refuses to be
            # written outside one (the pay path holds none while the provider is called).
            with transaction.atomic():
                charge = self._record(request, scenario)
                _schedule_settle(charge)
        else:
            charge = self._record(request, scenario)
        if scenario.timeout:
            raise ProviderTimeout(f"simulator timeout; charge {charge.reference} was recorded")
        return self._result(charge)

    def retrieve(self, reference: str) -> ChargeResult:
        return self._result(self._charges().get(reference=reference))

    def cancel(self, reference: str) -> ChargeResult:
        """Like Stripe: only a charge still waiting for the customer can be canceled."""
        with transaction.atomic():
            charge = self._charges().select_for_update().get(reference=reference)
            if charge.status == Outcome.REQUIRES_ACTION:
                charge.status, charge.failure_code = Outcome.FAILED, "canceled"
                charge.save(update_fields=["status", "failure_code"])
        return self._result(charge)

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> RefundResult:
        """Refund once per key; never more than was charged, never an unpaid charge."""
        from ..models import SimulatedRefund

        first_call = False
        with transaction.atomic():
            charge = self._charges().select_for_update().get(reference=reference)
            if charge.payment_method == "pm_sim_refund_no_answer":
                raise ProviderTimeout("simulator refund timeout; nothing was refunded")
            refund = SimulatedRefund.objects.filter(idempotency_key=idempotency_key).first()
            if refund is None:
                first_call = True
                failure = ""
                if charge.status != Outcome.SUCCEEDED:
                    failure = "charge_not_paid"
                elif charge.refunded + amount > charge.amount:
                    failure = "amount_too_large"
                elif charge.payment_method == "pm_sim_refund_fails":
                    failure = "expired_or_canceled_card"
                refund = SimulatedRefund.objects.create(
                    idempotency_key=idempotency_key,
                    reference="simre_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24],
                    charge=charge,
                    amount=amount,
                    status="failed" if failure else "succeeded",
                    failure_reason=failure,
                )
                if not failure:
                    charge.refunded += amount
                    charge.save(update_fields=["refunded"])
        if first_call and charge.payment_method == "pm_sim_refund_timeout":
            raise ProviderTimeout(f"simulator refund timeout; refund {refund.reference} was made")
        return RefundResult(
            succeeded=refund.status == "succeeded",
            reference=refund.reference,
            failure_reason=refund.failure_reason,
        )

    def _record(self, request: ChargeRequest, scenario: Scenario) -> SimulatedCharge:
        """Record the charge once per idempotency key; a replay gets the first answer."""
        digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:24]
        reference = _REFERENCE_PREFIX[self.name] + digest
        status = scenario.outcome.value
        try:
            with transaction.atomic():
                # get_or_create creates from its own arguments only, not from the filter.
                charge, _created = SimulatedCharge.objects.get_or_create(
                    provider=self.name,
                    idempotency_key=request.idempotency_key,
                    defaults={
                        "reference": reference,
                        "payment_method": request.payment_method,
                        "amount": request.amount,
                        "currency": request.currency,
                        "status": status,
                        "failure_code": scenario.failure_code,
                        "decline_code": scenario.decline_code,
                    },
                )
        except IntegrityError:
            charge = self._charges().get(idempotency_key=request.idempotency_key)
        return charge

    def _result(self, charge: SimulatedCharge) -> ChargeResult:
        outcome = Outcome(charge.status)
        action_url = ""
        if outcome is Outcome.REQUIRES_ACTION:
            action_url = reverse("payments:simulator_action", args=[charge.reference])
        return ChargeResult(
            outcome=outcome,
            reference=charge.reference,
            failure_code=charge.failure_code if outcome is Outcome.FAILED else "",
            decline_code=charge.decline_code if outcome is Outcome.FAILED else "",
            action_url=action_url,
            payload={"id": charge.reference, "status": charge.status, "amount": charge.amount},
            amount=charge.amount if outcome is Outcome.SUCCEEDED else None,
            currency=charge.currency.upper() if outcome is Outcome.SUCCEEDED else "",
        )


# --- The simulator's asynchronous side ---------------------------------------------------------
# Like Stripe, the simulator tells us about outcomes it reached later (slow processing, a
# payment that went through although our call timed out) with signed events on the same webhook
# path as Stripe's.

_EVENT_TYPES = {
    "succeeded": "payment_intent.succeeded",
    "failed": "payment_intent.payment_failed",
    "processing": "payment_intent.processing",
    "requires_action": "payment_intent.requires_action",
}


def intent_for(charge: SimulatedCharge) -> dict[str, object]:
    """The charge as a Stripe-shaped PaymentIntent."""
    error = None
    if charge.status == Outcome.FAILED:
        error = {
            "type": "card_error",
            "code": charge.failure_code,
            "decline_code": charge.decline_code,
        }
    status = {"failed": "requires_payment_method"}.get(charge.status, charge.status)
    return {
        "id": charge.reference,
        "object": "payment_intent",
        "amount": charge.amount,
        "currency": charge.currency.lower(),
        "status": status,
        "last_payment_error": error,
        "metadata": {"attempt_key": charge.idempotency_key},
    }


def event_for(charge: SimulatedCharge, sequence: int = 0) -> bytes:
    body = {
        "id": f"evt_{charge.reference}_{charge.status}_{sequence}",
        "object": "event",
        "type": _EVENT_TYPES[charge.status],
        "created": int(charge.created_at.timestamp()),
        "data": {"object": intent_for(charge)},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def sign(body: bytes) -> str:
    header = stripe.WebhookSignature.generate_signature_header(  # untyped in stripe-python
        body.decode(), settings.SIMULATOR_WEBHOOK_SECRET
    )
    return str(header)


def simulator_emit(charge: SimulatedCharge) -> None:
    """Deliver the charge's current state as a signed event, through the webhook entry point."""
    from ..services import webhook_ingest

    body = event_for(charge)
    webhook_ingest(provider=charge.provider, body=body, signature=sign(body))


def simulator_settle(reference: str) -> None:
    """A slow payment finishes on the provider side, then the provider tells us."""
    with transaction.atomic():
        charge = SimulatedCharge.objects.select_for_update().get(reference=reference)
        if charge.status == Outcome.PROCESSING:
            charge.status = Outcome.SUCCEEDED
            charge.save(update_fields=["status"])
    simulator_emit(charge)


def _schedule_settle(charge: SimulatedCharge) -> None:
    # The row keeps the time (next_attempt_at), so a settle whose broker timer is lost (broker
    # down, worker killed) is still delivered by the outbox sweep once due.
    outbox_enqueue(
        kind="payments.simulator_settle",
        payload={"reference": charge.reference},
        key=f"simulator_settle:{charge.reference}",
        delay=timedelta(seconds=settings.SIMULATOR_SETTLE_SECONDS),
    )
