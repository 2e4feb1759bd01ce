"""The wallet as a provider: paying debits the order owner's balance, once per attempt."""

from __future__ import annotations

from .base import CardSummary, ChargeRequest, ChargeResult, Outcome, RefundResult


class WalletGateway:
    name = "wallet"

    def card_fingerprint(self, payment_method: str) -> str:
        return ""  # no card behind a wallet

    def card_summary(self, payment_method: str) -> CardSummary:
        return CardSummary()  # no card behind a wallet

    def charge(self, request: ChargeRequest) -> ChargeResult:
        from ..models import PaymentAttempt, WalletEntry, public_id_from_provider_key
        from ..services.wallet import WalletInsufficient, wallet_move

        attempt = PaymentAttempt.objects.select_related("order").get(
            public_id=public_id_from_provider_key(request.idempotency_key)
        )
        owner = attempt.order.user
        if owner is None:
            return ChargeResult(Outcome.FAILED, "", failure_code="wallet_insufficient")
        try:
            entry = wallet_move(
                user=owner,
                currency=request.currency,
                amount=-request.amount,
                kind=WalletEntry.Kind.PAYMENT,
                attempt=attempt,
                actor=f"customer:{owner.email}",
            )
        except WalletInsufficient:
            return ChargeResult(Outcome.FAILED, "", failure_code="wallet_insufficient")
        return self._result(entry)

    def retrieve(self, reference: str) -> ChargeResult:
        from ..models import WalletEntry

        return self._result(WalletEntry.objects.get(pk=int(reference.removeprefix("wallet-"))))

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> RefundResult:
        """Money paid from the wallet goes back to the wallet, once per key."""
        from ..models import WalletEntry
        from ..services.wallet import wallet_move

        paid = WalletEntry.objects.select_related("wallet").get(
            pk=int(reference.removeprefix("wallet-"))
        )
        entry = wallet_move(
            user=paid.wallet.user,
            currency=paid.wallet.currency,
            amount=amount,
            kind=WalletEntry.Kind.REFUND,
            reference=idempotency_key,
            actor="refund",
        )
        return RefundResult(True, f"wallet-{entry.pk}")

    def cancel(self, reference: str) -> ChargeResult:
        return self.retrieve(reference)  # a wallet payment never waits for the customer

    @staticmethod
    def _result(entry: object) -> ChargeResult:
        reference = f"wallet-{entry.pk}"  # type: ignore[attr-defined]
        debit = -entry.amount  # type: ignore[attr-defined]
        currency = entry.wallet.currency  # type: ignore[attr-defined]
        return ChargeResult(
            Outcome.SUCCEEDED, reference, payload={"id": reference}, amount=debit, currency=currency
        )
