"""Paying with part of the wallet: the wallet part of an attempt is held when the attempt is
created, given back when the attempt ends unpaid, and taken again if the provider confirms the
attempt late after all.

The hold is a wallet debit (kind `payment`) tied to the attempt, the release a credit (kind
`release`) and the re-take a debit (kind `retake`); a database constraint lets each happen at
most once per attempt, so a replayed request, answer or sweep moves nothing twice. Every one is
written in the transaction that changes the attempt, under the wallet's row lock.
"""

from __future__ import annotations

from typing import Any

from ..models import IN_FLIGHT, PaymentAttempt, PaymentEvent, PaymentMethod, WalletEntry
from ..orders import PayableOrder
from ..selectors import method_availability
from .errors import MethodUnavailable
from .wallet import WalletInsufficient, wallet_move

S = PaymentAttempt.Status
# How an attempt may end unpaid: each of these gives the wallet part back.
ENDED_UNPAID = frozenset({S.FAILED, S.CANCELED})


def split_check(
    *, order: PayableOrder, method: PaymentMethod, user: Any, wallet_amount: int
) -> None:
    """Whether `wallet_amount` of this order may come from the wallet (raises if not).

    Only the order's owner, signed in, spends their wallet; only part of the total (a wallet
    that covers it all is the wallet method); never for a top-up or with the wallet itself.
    """
    if wallet_amount < 0:
        raise MethodUnavailable("wallet_split_invalid")
    if wallet_amount == 0:
        return
    if method.kind == PaymentMethod.Kind.WALLET or order.is_wallet_top_up:
        raise MethodUnavailable("wallet_split_invalid")
    if not (getattr(user, "is_authenticated", False) and order.user_id == user.pk):
        raise MethodUnavailable("wallet_owner_only")
    if wallet_amount >= order.total:
        raise MethodUnavailable("wallet_covers_order")
    wallet = PaymentMethod.objects.filter(kind=PaymentMethod.Kind.WALLET, enabled=True).first()
    if wallet is None:
        raise MethodUnavailable("disabled")
    # The wallet method's own rules (maintenance, limits, health) apply to the wallet part; the
    # balance is checked again under the wallet's lock when the part is held.
    availability = method_availability(
        method=wallet, amount=wallet_amount, currency=order.currency, user=user
    )
    if not availability.available:
        raise MethodUnavailable(availability.reason)


def split_hold(*, attempt: PaymentAttempt, order: PayableOrder, actor: str) -> None:
    """Take the wallet part of a new attempt (the order row is locked by the caller). A balance
    that no longer covers it raises MethodUnavailable, which rolls the attempt back."""
    if not attempt.wallet_amount:
        return
    try:
        wallet_move(
            user=order.user,
            currency=attempt.currency,
            amount=-attempt.wallet_amount,
            kind=WalletEntry.Kind.PAYMENT,
            attempt=attempt,
            actor=actor,
            note="held for a payment with another method",
        )
    except WalletInsufficient:
        raise MethodUnavailable("wallet_insufficient") from None


def split_release(*, attempt: PaymentAttempt, from_status: str, actor: str) -> None:
    """An attempt that held a wallet part ended unpaid: the part goes back, once.

    Called by attempt_transition for every move, in its transaction, so no path that ends an
    attempt unpaid (a decline, a risk refusal, a cancel, an expiry, reconciliation) forgets it.
    """
    if not attempt.wallet_amount or attempt.status not in ENDED_UNPAID:
        return
    if from_status not in IN_FLIGHT:
        return
    held = attempt.wallet_entries.filter(kind=WalletEntry.Kind.PAYMENT).first()
    if held is None:
        return  # nothing was taken, so nothing goes back
    entry = wallet_move(
        user=held.wallet.user,
        currency=held.wallet.currency,
        amount=-held.amount,
        kind=WalletEntry.Kind.RELEASE,
        attempt=attempt,
        actor=actor,
        note=f"payment {attempt.status}: the wallet part was not spent",
    )
    _event(attempt=attempt, entry=entry, actor=actor, message="wallet part given back")


def split_retake(*, attempt: PaymentAttempt, actor: str) -> bool:
    """The provider confirmed, late, an attempt whose wallet part was given back: take it again
    so the order is paid in full. False when the wallet no longer holds it (the caller then
    flags the provider's charge for refund instead of marking the order paid)."""
    if not attempt.wallet_amount:
        return True
    entries = attempt.wallet_entries.select_related("wallet")
    released = entries.filter(kind=WalletEntry.Kind.RELEASE).first()
    if released is None:
        return True  # still held: nothing to take again
    try:
        entry = wallet_move(
            user=released.wallet.user,
            currency=released.wallet.currency,
            amount=-released.amount,
            kind=WalletEntry.Kind.RETAKE,
            attempt=attempt,
            actor=actor,
            note="the provider confirmed the payment late: the wallet part is taken again",
        )
    except WalletInsufficient:
        return False
    _event(attempt=attempt, entry=entry, actor=actor, message="wallet part taken again")
    return True


def _event(*, attempt: PaymentAttempt, entry: WalletEntry, actor: str, message: str) -> None:
    """The timeline entry support reads for a move of the wallet part."""
    PaymentEvent.objects.create(
        attempt=attempt,
        kind=PaymentEvent.Kind.WALLET,
        actor=actor[:120],
        message=message,
        payload={"wallet_amount": entry.amount, "entry": entry.pk, "kind": entry.kind},
    )
