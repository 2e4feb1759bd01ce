"""The payments models, one module per seam. Django finds the models through this module (the
app's `models`), so every model class is imported here; every public name is re-exported so
`from payments.models import X` works wherever it did."""

from .attempts import (
    ALLOWED,
    IN_FLIGHT,
    LATE_CONFIRMATION,
    PAID,
    PROVIDER_KEY_PREFIX,
    ROUTE_KEY_SEPARATOR,
    AttemptStatus,
    PaymentAttempt,
    PaymentEvent,
    S,
    public_id_from_provider_key,
)
from .base import AppendOnly
from .health import HEALTH_ALLOWED, HS, MethodHealth, MethodHealthEvent
from .methods import MethodChange, PaymentMethod
from .provider import SimulatedCharge, SimulatedRefund, WebhookEvent
from .refunds import (
    REFUND_ALLOWED,
    REFUND_KEY_PREFIX,
    REFUND_LATE_SUCCESS,
    REFUND_NO_ANSWER,
    Refund,
    RefundStatus,
)
from .routes import PaymentRoute, RouteHealth
from .stamps import ChangeStamp
from .wallet import Wallet, WalletEntry
from .withdrawals import (
    WITHDRAWAL_ALLOWED,
    WITHDRAWAL_OPEN,
    Withdrawal,
    WithdrawalEvent,
    WithdrawalStatus,
)

__all__ = [
    "ALLOWED",
    "HEALTH_ALLOWED",
    "HS",
    "IN_FLIGHT",
    "LATE_CONFIRMATION",
    "PAID",
    "PROVIDER_KEY_PREFIX",
    "REFUND_ALLOWED",
    "REFUND_KEY_PREFIX",
    "REFUND_LATE_SUCCESS",
    "REFUND_NO_ANSWER",
    "ROUTE_KEY_SEPARATOR",
    "S",
    "WITHDRAWAL_ALLOWED",
    "WITHDRAWAL_OPEN",
    "AppendOnly",
    "AttemptStatus",
    "ChangeStamp",
    "MethodChange",
    "MethodHealth",
    "MethodHealthEvent",
    "PaymentAttempt",
    "PaymentEvent",
    "PaymentMethod",
    "PaymentRoute",
    "Refund",
    "RefundStatus",
    "RouteHealth",
    "SimulatedCharge",
    "SimulatedRefund",
    "WebhookEvent",
    "Wallet",
    "WalletEntry",
    "Withdrawal",
    "WithdrawalEvent",
    "WithdrawalStatus",
    "public_id_from_provider_key",
]
