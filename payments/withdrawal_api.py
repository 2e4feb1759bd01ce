"""REST API for cashing out the wallet: withdraw (once per Idempotency-Key), list, detail.
Thin: parse, call the service, shape. Errors go through config.api_errors."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated, NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_schema import error_responses

from . import services
from .arrival import arrival_words
from .models import Refund, Withdrawal

WITHDRAWAL_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="1-255 characters, one per withdraw press. Repeating it returns the same "
    "withdrawal.",
)


class WithdrawalInput(serializers.Serializer):
    amount = serializers.IntegerField(
        min_value=1,
        max_value=2**62,
        help_text="In the currency's minor unit (cents): 4200 is $42.00.",
    )
    currency = serializers.CharField(
        min_length=3, max_length=3, required=False, help_text="Defaults to the shop's currency."
    )


class WithdrawalPartOutput(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    method = serializers.SerializerMethodField()
    expected_arrival = serializers.SerializerMethodField()

    class Meta:
        model = Refund
        fields = ["id", "amount", "currency", "status", "method", "expected_arrival"]

    def get_method(self, refund: Refund) -> str:
        return refund.attempt.method.code

    def get_expected_arrival(self, refund: Refund) -> str:
        return arrival_words(refund.attempt.method.kind)


class WithdrawalOutput(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    parts = serializers.SerializerMethodField()

    class Meta:
        model = Withdrawal
        fields = ["id", "amount", "currency", "status", "created_at", "parts"]

    @extend_schema_field(WithdrawalPartOutput(many=True))
    def get_parts(self, withdrawal: Withdrawal) -> list[dict[str, Any]]:
        rows = withdrawal.parts.select_related("attempt__method").order_by("created_at", "pk")
        return list(WithdrawalPartOutput(rows, many=True).data)


def _user(request: Request) -> Any:
    if not request.user.is_authenticated:  # IsAuthenticated let only them in; this tells mypy
        raise NotAuthenticated
    return request.user


class Withdrawals(APIView):
    """The signed-in customer's wallet withdrawals: list them, or withdraw."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: WithdrawalOutput(many=True)})
    def get(self, request: Request) -> Response:
        rows = Withdrawal.objects.filter(user=_user(request))[:100]
        return Response(WithdrawalOutput(rows, many=True).data)

    @extend_schema(
        parameters=[WITHDRAWAL_KEY_PARAMETER],
        request=WithdrawalInput,
        responses={
            201: WithdrawalOutput,
            200: WithdrawalOutput,
            **error_responses("invalid", "idempotency_conflict", "withdrawal_not_allowed"),
        },
    )
    def post(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key", "")
        if not 1 <= len(key) <= 255:
            raise ValidationError(
                {"Idempotency-Key": [_("Send an Idempotency-Key header of 1 to 255 characters.")]}
            )
        data = WithdrawalInput(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal, created = services.withdrawal_request(
            user=_user(request),
            currency=data.validated_data.get("currency") or settings.SHOP_CURRENCY,
            amount=data.validated_data["amount"],
            idempotency_key=key,
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(WithdrawalOutput(withdrawal).data, status=code)


class WithdrawalDetail(APIView):
    """One of the signed-in customer's withdrawals; anyone else's is not found."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: WithdrawalOutput, **error_responses("not_found")})
    def get(self, request: Request, public_id: str) -> Response:
        withdrawal = Withdrawal.objects.filter(public_id=public_id, user=_user(request)).first()
        if withdrawal is None:
            raise NotFound(_("No withdrawal with this id was found."))
        return Response(WithdrawalOutput(withdrawal).data)
