"""REST API for paying an order and reading what happened. Thin: parse, call a service, shape."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated, NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.client_ip import client_ip
from config.api_schema import error_responses

from . import risk, services
from .failures import failure_for, paused_guidance
from .gateways import InvalidPaymentDetails, payment_method_token
from .models import PaymentAttempt, PaymentMethod, Refund
from .orders import PayableOrder, order_book
from .selectors import alternatives_for, methods_for_amount

# The header a guest proves an order with (checkout's API reads it the same way).
CLIENT_SECRET_PARAMETER = OpenApiParameter(
    "X-Client-Secret",
    str,
    OpenApiParameter.HEADER,
    description="The client_secret from order creation; needed by guests.",
)
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="1-255 characters, one per Pay press. Repeating it returns the same attempt.",
)


class MethodSerializer(serializers.Serializer):
    code = serializers.CharField()
    # DRF moves declared fields off the class; the stub sees Field.label (a string) instead.
    label = serializers.CharField()  # type: ignore[assignment]
    available = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)


def order_for_request(request: Request, number: str) -> PayableOrder:
    """The order if this caller may see it, else 404 (checkout's rule, payments/orders.py)."""
    return order_book().for_request(request, number)


def order_visible(request: Request, order: PayableOrder) -> bool:
    return order_book().visible(request, order)


def _method_row(availability: Any) -> dict[str, Any]:
    return {
        "code": availability.method.code,
        "label": availability.method.label,
        "available": availability.available,
        "reason": availability.reason,
        "message": availability.message,
    }


def _failure(attempt: PaymentAttempt) -> dict[str, Any] | None:
    if attempt.status != PaymentAttempt.Status.FAILED:
        return None
    entry = failure_for(attempt.failure_code, attempt.decline_code)
    body: dict[str, Any] = {
        "code": entry.code if entry.reveal else "generic_decline",
        "category": entry.category.value,
        "message": str(entry.message),
        "guidance": [str(step) for step in entry.guidance],
        "retry_same_method": entry.retry_same_method,
        "alternatives": [],
        "retry_after": None,
    }
    refusal = risk.refusal_for(attempt=attempt)
    if refusal is not None:
        # Paused by the risk rules: no way to pay until `retry_after` (null: ask for a review).
        until = refusal.until
        signed_in = attempt.user_id is not None
        body |= {
            "guidance": list(paused_guidance(until=until, signed_in=signed_in)),
            "retry_same_method": False,
            "retry_after": until.isoformat() if until is not None else None,
        }
        return body
    body["alternatives"] = [
        {"method": alt.method.code, "label": alt.method.label, "reason": str(alt.why)}
        for alt in alternatives_for(attempt=attempt, entry=entry)
    ]
    return body


class AmountSerializer(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Integer amount in the currency's minor unit.")
    currency = serializers.CharField(help_text="ISO 4217 code, e.g. USD.")


class FailureSerializer(serializers.Serializer):
    code = serializers.CharField()
    category = serializers.CharField()
    message = serializers.CharField()
    guidance = serializers.ListField(child=serializers.CharField())
    retry_same_method = serializers.BooleanField()
    alternatives = inline_serializer(
        name="PaymentAlternative",
        many=True,
        fields={
            "method": serializers.CharField(),
            "label": serializers.CharField(),
            "reason": serializers.CharField(),
        },
    )
    retry_after = serializers.DateTimeField(
        allow_null=True, help_text="Paused by the risk rules until then; null: ask for a review."
    )


class AttemptSerializer(serializers.Serializer):
    """The attempt as the API shows it. The fields document the shape (the schema, and so
    schemathesis, checks answers against them); to_representation builds it."""

    id = serializers.UUIDField()
    order = serializers.CharField(help_text="The order number.")
    method = serializers.CharField(help_text="The payment method's code.")
    amount = AmountSerializer()
    status = serializers.ChoiceField(choices=PaymentAttempt.Status.choices)
    action_url = serializers.CharField(
        allow_null=True, help_text="Where the customer finishes paying (a bank or wallet page)."
    )
    failure = FailureSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    timeline = inline_serializer(
        name="PaymentTimelineEvent",
        many=True,
        fields={
            "kind": serializers.CharField(),
            "from": serializers.CharField(allow_null=True),
            "to": serializers.CharField(allow_null=True),
            "at": serializers.DateTimeField(),
        },
    )

    def to_representation(self, attempt: PaymentAttempt) -> dict[str, Any]:
        return {
            "id": str(attempt.public_id),
            "order": attempt.order.number,
            "method": attempt.method.code,
            "amount": {"amount": attempt.amount, "currency": attempt.currency},
            # Paid from the customer's wallet alongside `amount` (0 unless the payment is split).
            "wallet_amount": {"amount": attempt.wallet_amount, "currency": attempt.currency},
            "status": attempt.status,
            "action_url": attempt.action_url or None,
            "failure": _failure(attempt),
            "created_at": attempt.created_at.isoformat(),
            "timeline": [
                {
                    "kind": event.kind,
                    "from": event.from_status or None,
                    "to": event.to_status or None,
                    "at": event.created_at.isoformat(),
                }
                for event in attempt.events.all()
            ],
        }


class PayInput(serializers.Serializer):
    method = serializers.SlugField(max_length=40)
    payment_method = serializers.CharField(max_length=100, required=False, allow_blank=True)
    # Part of the order paid from the signed-in owner's wallet, the rest with `method` (minor
    # units; less than the total). Held when the payment starts, given back if it fails.
    wallet_amount = serializers.IntegerField(required=False, min_value=1, max_value=10**12)

    def validate_method(self, code: str) -> PaymentMethod:
        method = PaymentMethod.objects.filter(code=code, enabled=True).first()
        if method is None:
            raise ValidationError(_("There is no payment method with this code."))
        return method


class OrderPaymentMethods(APIView):
    @extend_schema(
        parameters=[CLIENT_SECRET_PARAMETER],
        responses={200: MethodSerializer(many=True), **error_responses("not_found")},
    )
    def get(self, request: Request, number: str) -> Response:
        order = order_for_request(request, number)
        user = order.user
        rows = methods_for_amount(amount=order.total, currency=order.currency, user=user)
        return Response([_method_row(row) for row in rows])


class OrderPayments(APIView):
    @extend_schema(
        parameters=[IDEMPOTENCY_KEY_PARAMETER, CLIENT_SECRET_PARAMETER],
        request=PayInput,
        responses={
            201: AttemptSerializer,
            200: AttemptSerializer,
            **error_responses(
                "invalid",
                "not_found",
                "idempotency_conflict",
                "payment_in_progress",
                "order_not_payable",
                "method_unavailable",
                "amount_changed",
                "throttled",
            ),
        },
    )
    def post(self, request: Request, number: str) -> Response:
        order = order_for_request(request, number)
        key = request.headers.get("Idempotency-Key", "")
        if not 1 <= len(key) <= 255:
            raise ValidationError(
                {"Idempotency-Key": [_("Send an Idempotency-Key header of 1 to 255 characters.")]}
            )
        data = PayInput(data=request.data)
        data.is_valid(raise_exception=True)
        method = data.validated_data["method"]
        token = data.validated_data.get("payment_method", "")
        try:
            token = payment_method_token(provider=method.provider, kind=method.kind, value=token)
        except InvalidPaymentDetails as exc:
            raise ValidationError({"payment_method": [str(exc)]}) from exc
        # A domain error (in progress, not payable, unavailable, key conflict) goes to the one
        # handler, config.api_errors, which answers with its code and status.
        attempt, created = services.attempt_create(
            order=order,
            method=method,
            idempotency_key=key,
            payment_method=token,
            user=request.user,
            client_ip=client_ip(request._request),
            wallet_amount=data.validated_data.get("wallet_amount", 0),
        )
        if created or attempt.status == PaymentAttempt.Status.CREATED:
            # A repeat that finds its attempt unsent sends it (once: attempt_send locks).
            attempt = services.attempt_send(attempt=attempt)
        body = AttemptSerializer(_reload(attempt)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class PaymentDetail(APIView):
    @extend_schema(
        parameters=[CLIENT_SECRET_PARAMETER],
        responses={200: AttemptSerializer, **error_responses("not_found")},
    )
    def get(self, request: Request, public_id: str) -> Response:
        attempt = (
            PaymentAttempt.objects.select_related("order", "method")
            .filter(public_id=public_id)
            .first()
        )
        if attempt is None or not order_visible(request, attempt.order):
            raise NotFound(_("No payment with this id was found."))
        return Response(AttemptSerializer(_reload(attempt)).data)


def _reload(attempt: PaymentAttempt) -> PaymentAttempt:
    return (
        PaymentAttempt.objects.select_related("order", "method")
        .prefetch_related("events")
        .get(pk=attempt.pk)
    )


class CanRefund(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user.is_authenticated and request.user.has_perm("payments.add_refund"))


class RefundInput(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1, help_text="Minor units.")
    destination = serializers.ChoiceField(choices=Refund.Destination.choices, default="original")
    reason = serializers.CharField(max_length=200)


class RefundOutput(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")

    class Meta:
        model = Refund
        fields = [
            "id",
            "amount",
            "currency",
            "destination",
            "status",
            "reason",
            "failure_reason",
            "created_at",
        ]


REFUND_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="1-255 characters, one per refund. Repeating it returns the same refund.",
)


class PaymentRefunds(APIView):
    """Staff only: refund all or part of a paid attempt, once per Idempotency-Key."""

    permission_classes = [CanRefund]

    @extend_schema(
        parameters=[REFUND_KEY_PARAMETER],
        request=RefundInput,
        responses={
            201: RefundOutput,
            200: RefundOutput,
            **error_responses("invalid", "not_found", "idempotency_conflict", "refund_not_allowed"),
        },
    )
    def post(self, request: Request, public_id: str) -> Response:
        attempt = PaymentAttempt.objects.filter(public_id=public_id).first()
        if attempt is None:
            raise NotFound(_("No payment with this id was found."))
        key = request.headers.get("Idempotency-Key", "")
        if not 1 <= len(key) <= 255:
            raise ValidationError(
                {"Idempotency-Key": [_("Send an Idempotency-Key header of 1 to 255 characters.")]}
            )
        data = RefundInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        if not user.is_authenticated:  # CanRefund has let only staff in; this tells mypy
            raise NotAuthenticated
        refund, created = services.refund_request(
            attempt=attempt,
            amount=data.validated_data["amount"],
            destination=data.validated_data["destination"],
            reason=data.validated_data["reason"],
            actor=f"staff:{user.email}",
            idempotency_key=key,
        )
        if refund.status == Refund.Status.PENDING:
            # New, or a replay of one the provider has not answered: the same key again.
            refund = services.refund_send(refund=refund)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(RefundOutput(refund).data, status=code)
