"""Every write to payments, as plain functions. Import from here."""

from .attempts import (
    attempt_apply_result,
    attempt_create,
    attempt_pay,
    attempt_send,
    customer_actor,
    simulator_action_complete,
)
from .cancel import attempt_cancel
from .errors import (
    AmountChanged,
    IdempotencyConflict,
    InvalidTransition,
    MethodUnavailable,
    OrderNotPayable,
    PaymentError,
    PaymentInProgress,
)
from .methods import method_update
from .reconcile import (
    attempt_give_up,
    attempt_reconcile,
    attempt_refresh,
    attempts_unsent_cancel,
    expire_waiting_actions,
    reconcile_attempts,
)
from .refunds import (
    RefundKeyConflict,
    RefundNotAllowed,
    refund_create,
    refund_give_up,
    refund_record_external,
    refund_request,
    refund_retry,
    refund_send,
    refund_settle,
    refund_transition,
    refunds_retry_pending,
)
from .transition import attempt_transition
from .wallet import WalletInsufficient, wallet_move
from .webhooks import WebhookRejected, webhook_ingest, webhook_process, webhook_requeue_stale

__all__ = [
    "AmountChanged",
    "IdempotencyConflict",
    "InvalidTransition",
    "MethodUnavailable",
    "OrderNotPayable",
    "PaymentError",
    "PaymentInProgress",
    "RefundKeyConflict",
    "RefundNotAllowed",
    "WalletInsufficient",
    "WebhookRejected",
    "attempt_apply_result",
    "attempt_cancel",
    "attempt_create",
    "attempt_give_up",
    "attempt_pay",
    "attempt_reconcile",
    "attempts_unsent_cancel",
    "attempt_refresh",
    "attempt_send",
    "attempt_transition",
    "customer_actor",
    "expire_waiting_actions",
    "method_update",
    "reconcile_attempts",
    "refund_create",
    "refund_give_up",
    "refund_record_external",
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
