"""Every write to payments, as plain functions. Import from here."""

from .attempts import (
    IdempotencyConflict,
    InvalidTransition,
    MethodUnavailable,
    OrderNotPayable,
    PaymentError,
    PaymentInProgress,
    attempt_apply_result,
    attempt_create,
    attempt_pay,
    attempt_send,
    attempt_transition,
    simulator_action_complete,
)
from .reconcile import attempt_give_up, attempt_reconcile, attempt_refresh, reconcile_attempts
from .refunds import (
    RefundNotAllowed,
    refund_create,
    refund_give_up,
    refund_request,
    refund_retry,
    refund_send,
    refund_settle,
    refund_transition,
    refunds_retry_pending,
)
from .wallet import WalletInsufficient, wallet_move
from .webhooks import WebhookRejected, webhook_ingest, webhook_process, webhook_requeue_stale

__all__ = [
    "IdempotencyConflict",
    "InvalidTransition",
    "MethodUnavailable",
    "OrderNotPayable",
    "PaymentError",
    "PaymentInProgress",
    "RefundNotAllowed",
    "WalletInsufficient",
    "WebhookRejected",
    "attempt_apply_result",
    "attempt_create",
    "attempt_give_up",
    "attempt_pay",
    "attempt_reconcile",
    "attempt_refresh",
    "attempt_send",
    "attempt_transition",
    "reconcile_attempts",
    "refund_create",
    "refund_give_up",
    "refund_request",
    "refund_retry",
    "refund_send",
    "refund_settle",
    "refund_transition",
    "refunds_retry_pending",
    "simulator_action_complete",
    "wallet_move",
    "webhook_ingest",
    "webhook_process",
    "webhook_requeue_stale",
]
