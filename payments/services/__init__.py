"""Every write to payments, as plain functions. Import from here."""

from .adyen import attempt_adyen_redirect_complete
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
from .methods import method_routes_changed, method_update
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
    refund_provider_update,
    refund_record_external,
    refund_request,
    refund_retry,
    refund_send,
    refund_settle,
    refund_transition,
    refunds_alert_overdue,
    refunds_retry_pending,
)
from .transition import attempt_transition
from .wallet import WalletInsufficient, wallet_move
from .webhooks import (
    WebhookRejected,
    notification_ingest,
    webhook_ingest,
    webhook_process,
    webhook_requeue_stale,
)
from .webhooks_adyen import adyen_notification_ingest
from .withdrawal_parts import withdrawal_transition
from .withdrawals import (
    WithdrawalKeyConflict,
    WithdrawalNotAllowed,
    withdrawal_request,
    withdrawal_send,
)

__all__ = [
    "attempt_adyen_redirect_complete",
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
    "WithdrawalKeyConflict",
    "WithdrawalNotAllowed",
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
    "method_routes_changed",
    "method_update",
    "notification_ingest",
    "reconcile_attempts",
    "refund_create",
    "refund_give_up",
    "refund_provider_update",
    "refund_record_external",
    "refund_request",
    "refund_retry",
    "refund_send",
    "refund_settle",
    "refund_transition",
    "refunds_alert_overdue",
    "refunds_retry_pending",
    "simulator_action_complete",
    "withdrawal_request",
    "withdrawal_send",
    "withdrawal_transition",
    "wallet_move",
    "adyen_notification_ingest",
    "webhook_ingest",
    "webhook_process",
    "webhook_requeue_stale",
]
