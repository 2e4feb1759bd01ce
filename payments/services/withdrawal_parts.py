"""What a withdrawal part (a `Refund` with `withdrawal` set) does differently from a refund,
called from the refund machinery at its few seams. Imports nothing of refunds.py, so the
refund services can call it and the withdrawal services can call them.

- The money leaves the wallet, not the shop: it was held (a `withdrawal` entry) when the
  withdrawal was requested. A part that fails gives exactly that back (`withdrawal_return`,
  once per part by its reference) in the transaction that records the failure.
- A part from a purchase refunded to the wallet re-routes money already refunded: it reserves
  nothing more of the attempt, and the attempt's status does not move for it.
- The withdrawal's own status follows its parts.
"""

from __future__ import annotations

from typing import Any

from ..models import (
    WITHDRAWAL_ALLOWED,
    Refund,
    WalletEntry,
    Withdrawal,
    WithdrawalEvent,
)
from .errors import InvalidTransition
from .wallet import wallet_move

W = Withdrawal.Status


def part_reroutes(refund: Refund) -> bool:
    """A withdrawal part from a purchase refunded to the wallet: already counted as refunded."""
    return refund.withdrawal_id is not None and not refund.attempt.order.is_wallet_top_up


def part_hold(*, refund: Refund, user: Any, actor: str, late: bool = False) -> WalletEntry:
    """Take the part's amount out of the wallet (raises WalletInsufficient). Once per part
    (and once more after a late success, when the failure had given it back)."""
    suffix = "-late" if late else ""
    return wallet_move(
        user=user,
        currency=refund.currency,
        amount=-refund.amount,
        kind=WalletEntry.Kind.WITHDRAWAL,
        reference=f"withdrawal-{refund.public_id}{suffix}",
        note=f"withdrawal {refund.withdrawal.public_id if refund.withdrawal else ''}",
        actor=actor,
    )


def part_return(*, refund: Refund, actor: str) -> WalletEntry:
    """A part that did not go out: exactly its amount back to the wallet, once per part."""
    assert refund.withdrawal_id is not None
    withdrawal = Withdrawal.objects.get(pk=refund.withdrawal_id)
    return wallet_move(
        user=withdrawal.user,
        currency=refund.currency,
        amount=refund.amount,
        kind=WalletEntry.Kind.WITHDRAWAL_RETURN,
        reference=f"withdrawal-return-{refund.public_id}",
        note=f"withdrawal {withdrawal.public_id}: part did not go through",
        actor=actor,
    )


def withdrawal_transition(
    *, withdrawal: Withdrawal, to: str, actor: str, message: str = ""
) -> Withdrawal:
    """Move a locked withdrawal along its table and write the event. Illegal moves raise."""
    if to not in WITHDRAWAL_ALLOWED[withdrawal.status]:
        raise InvalidTransition(f"withdrawal {withdrawal.public_id}: {withdrawal.status} -> {to}")
    from_status = withdrawal.status
    withdrawal.status = to
    withdrawal.save(update_fields=["status", "updated_at"])
    WithdrawalEvent.objects.create(
        withdrawal=withdrawal,
        from_status=from_status,
        to_status=to,
        actor=actor[:120],
        message=message[:500],
    )
    return withdrawal


def status_from_parts(statuses: list[str]) -> str | None:
    """The status the parts add up to, or None while any part is still pending."""
    if not statuses or Refund.Status.PENDING in statuses:
        return None
    if all(s == Refund.Status.SUCCEEDED for s in statuses):
        return W.COMPLETED
    if all(s == Refund.Status.FAILED for s in statuses):
        return W.FAILED
    return W.PARTLY_FAILED


def withdrawal_follow(*, refund: Refund, actor: str) -> None:
    """After a part settled (in its transaction): the withdrawal says what its parts came to."""
    assert refund.withdrawal_id is not None
    withdrawal = Withdrawal.objects.select_for_update().get(pk=refund.withdrawal_id)
    statuses = list(withdrawal.parts.values_list("status", flat=True))
    target = status_from_parts(statuses)
    if target is None or target == withdrawal.status:
        return
    withdrawal_transition(
        withdrawal=withdrawal,
        to=target,
        actor=actor,
        message=f"part {refund.public_id} {refund.status}",
    )
