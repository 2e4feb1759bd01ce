"""REST API for money back: the caller's refunds with their steps and dates, one refund, and
an order's refund requests (list, and ask for one). Thin: the rules live in
payments.arrival (the steps) and checkout.refund_requests (the window, one open per order)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_schema import error_responses
from payments.api import CLIENT_SECRET_PARAMETER
from payments.arrival import MoneyBack, Step, money_back
from payments.models import Refund

from . import refund_requests
from .api import order_for_request
from .models import RefundRequest
from .selectors import refund_visible_to, refunds_of_user


class MoneyBackSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="refund.public_id")
    order = serializers.CharField(source="refund.attempt.order.number")
    amount = serializers.IntegerField(source="refund.amount", help_text="In minor units.")
    currency = serializers.CharField(source="refund.currency")
    destination = serializers.CharField(source="refund.destination")
    method = serializers.CharField(source="refund.attempt.method.kind")
    status = serializers.CharField(source="refund.status")
    step = serializers.ChoiceField(choices=[s.value for s in Step])
    step_label = serializers.CharField(source="label")
    provider_reference = serializers.CharField(
        source="refund.provider_reference", help_text="The reference the customer's bank knows."
    )
    requested_at = serializers.DateTimeField(source="refund.created_at")
    sent_at = serializers.DateTimeField(source="refund.sent_at", allow_null=True)
    expected_by = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField(help_text="The expected date passed unconfirmed.")
    failure_reason = serializers.CharField(source="reason", allow_null=True)
    next_step = serializers.CharField(allow_null=True)


class RefundRequestSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    order = serializers.CharField(source="order.number", read_only=True)
    refund = serializers.UUIDField(source="refund.public_id", read_only=True, allow_null=True)

    class Meta:
        model = RefundRequest
        fields = (
            "id",
            "order",
            "reason",
            "amount",
            "status",
            "created_at",
            "respond_by",
            "decided_at",
            "decline_reason",
            "refund",
        )
        read_only_fields = fields


class RefundRequestInput(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)
    amount = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="Minor units; empty: all that is left.",
    )


def _rows(refunds: Any) -> list[MoneyBack]:
    now = timezone.now()
    return [money_back(r, now=now, top_up=r.attempt.order.is_wallet_top_up) for r in refunds]


class RefundList(APIView):
    """The signed-in caller's refunds (orders and wallet withdrawals), newest first."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        responses={200: MoneyBackSerializer(many=True), **error_responses("not_authenticated")}
    )
    def get(self, request: Request) -> Response:
        rows = _rows(refunds_of_user(request.user)[:100])
        return Response(MoneyBackSerializer(rows, many=True).data)


class RefundDetail(APIView):
    @extend_schema(
        parameters=[CLIENT_SECRET_PARAMETER],
        responses={200: MoneyBackSerializer, **error_responses("not_found")},
    )
    def get(self, request: Request, public_id: str) -> Response:
        refund = (
            Refund.objects.select_related("attempt__order", "attempt__method")
            .filter(public_id=public_id)
            .first()
        )
        if refund is None or not refund_visible_to(
            refund=refund,
            user=request.user,
            session=request.session,
            key=request.headers.get("X-Client-Secret", ""),
        ):
            raise NotFound(_("No refund with this id was found."))
        return Response(MoneyBackSerializer(_rows([refund])[0]).data)


class OrderRefundRequests(APIView):
    @extend_schema(
        parameters=[CLIENT_SECRET_PARAMETER],
        responses={200: RefundRequestSerializer(many=True), **error_responses("not_found")},
    )
    def get(self, request: Request, number: str) -> Response:
        order = order_for_request(request, number)
        items = order.refund_requests.select_related("order", "refund")
        return Response(RefundRequestSerializer(items, many=True).data)

    @extend_schema(
        parameters=[CLIENT_SECRET_PARAMETER],
        request=RefundRequestInput,
        responses={
            201: RefundRequestSerializer,
            **error_responses(
                "invalid", "not_found", "refund_request_not_allowed", "refund_request_open"
            ),
        },
    )
    def post(self, request: Request, number: str) -> Response:
        order = order_for_request(request, number)
        data = RefundRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = refund_requests.refund_request_open(
            order=order,
            reason=data.validated_data["reason"],
            user=request.user,
            amount=data.validated_data.get("amount"),
        )
        return Response(RefundRequestSerializer(item).data, status=status.HTTP_201_CREATED)
