"""The errors payments services raise; each has a `code` the API and pages answer with."""

from __future__ import annotations

from ..models import PaymentAttempt


class PaymentError(Exception):
    code = "payment_error"


class InvalidTransition(PaymentError):
    code = "invalid_transition"


class IdempotencyConflict(PaymentError):
    """The same idempotency key was sent with a different request: a client bug, never retried."""

    code = "idempotency_conflict"


class OrderNotPayable(PaymentError):
    code = "order_not_payable"


class AmountChanged(PaymentError):
    """The order's total is not what the customer was shown when they pressed Pay (another tab
    changed it): nothing is charged, and they check and press again."""

    code = "amount_changed"


class PaymentInProgress(PaymentError):
    """Another attempt for this order is still waiting for an answer."""

    code = "payment_in_progress"

    def __init__(self, attempt: PaymentAttempt) -> None:
        super().__init__(f"attempt {attempt.public_id} is still {attempt.status}")
        self.attempt = attempt


class MethodUnavailable(PaymentError):
    code = "method_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
