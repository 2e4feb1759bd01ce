"""The wallet: a ledger of entries whose sum is the balance, never negative.

Every movement locks the wallet row, checks, and writes the entry and the new balance together;
a database constraint refuses a negative balance should anything slip. Payments and top-ups move
money once per attempt however often they are replayed.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from ..models import PaymentAttempt, Wallet, WalletEntry
from ..models.wallet import ONCE_PER_ATTEMPT
from .errors import PaymentError


class WalletInsufficient(PaymentError):
    code = "wallet_insufficient"


def _wallet_locked(*, user: Any, currency: str) -> Wallet:
    try:
        with transaction.atomic():
            Wallet.objects.get_or_create(user=user, currency=currency.upper())
    except IntegrityError:
        pass  # created by a concurrent request: fine, we lock it next
    return Wallet.objects.select_for_update().get(user=user, currency=currency.upper())


@transaction.atomic
def wallet_move(
    *,
    user: Any,
    currency: str,
    amount: int,
    kind: str,
    actor: str,
    attempt: PaymentAttempt | None = None,
    reference: str = "",
    note: str = "",
) -> WalletEntry:
    """Credit (amount > 0) or debit (amount < 0) a wallet. Returns the entry.

    Repeating a payment, top-up, release or re-take for the same attempt, or any move with the
    same reference, returns the first entry and moves nothing.
    """
    if amount == 0:
        raise ValueError("a wallet entry moves money")
    wallet = _wallet_locked(user=user, currency=currency)
    existing = None
    if attempt is not None and kind in ONCE_PER_ATTEMPT:
        existing = wallet.entries.filter(attempt=attempt, kind=kind).first()
    elif reference:
        existing = wallet.entries.filter(reference=reference).first()
    if existing is not None:
        return existing
    if wallet.balance + amount < 0:
        raise WalletInsufficient(f"balance {wallet.balance} cannot cover {-amount}")
    wallet.balance += amount
    wallet.save(update_fields=["balance", "updated_at"])
    return WalletEntry.objects.create(
        wallet=wallet,
        kind=kind,
        amount=amount,
        attempt=attempt,
        reference=reference,
        note=note[:200],
        created_by=actor,
    )
