"""REST API for products and orders. Thin: validate, call a service, shape the answer."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_schema import error_responses
from payments.api import CLIENT_SECRET_PARAMETER

from . import services
from .models import Order, OrderLine, Product
from .selectors import order_visible_to


class MoneySerializer(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Integer amount in the currency's minor unit.")
    currency = serializers.CharField(help_text="ISO 4217 code, e.g. USD.")


class ProductSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    price = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["sku", "name", "description", "price"]

    @extend_schema_field(MoneySerializer)
    def get_price(self, product: Product) -> dict[str, Any]:
        return {"amount": product.price, "currency": product.currency}


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["sku", "name", "unit_price", "quantity", "line_total"]


class OrderSerializer(serializers.ModelSerializer):
    total = serializers.SerializerMethodField()
    lines = OrderLineSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = ["number", "status", "email", "total", "lines", "created_at", "paid_at"]

    @extend_schema_field(MoneySerializer)
    def get_total(self, order: Order) -> dict[str, Any]:
        return {"amount": order.total, "currency": order.currency}


class OrderCreatedSerializer(OrderSerializer):
    client_secret = serializers.CharField(
        read_only=True,
        help_text=(
            "Shown once. A guest sends it back as the X-Client-Secret header to read the order."
        ),
    )

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "client_secret"]


class OrderItemInput(serializers.Serializer):
    sku = serializers.SlugField(max_length=40)
    quantity = serializers.IntegerField(min_value=1, max_value=services.MAX_QUANTITY)


class OrderCreateInput(serializers.Serializer):
    email = serializers.EmailField()
    items = OrderItemInput(many=True, allow_empty=False)

    def validate_items(self, items: list[dict[str, Any]]) -> list[tuple[Product, int]]:
        skus = [item["sku"] for item in items]
        if len(set(skus)) != len(skus):
            raise ValidationError(_("Each SKU may appear only once; add up the quantities."))
        products = {p.sku: p for p in Product.objects.filter(sku__in=skus, active=True)}
        missing = [sku for sku in skus if sku not in products]
        if missing:
            raise ValidationError(
                _("These products do not exist or are not on sale: %(skus)s")
                % {"skus": ", ".join(missing)}
            )
        if len({p.currency for p in products.values()}) > 1:
            raise ValidationError(_("All items of an order must be in the same currency."))
        return [(products[item["sku"]], item["quantity"]) for item in items]


class ProductList(generics.ListAPIView):
    serializer_class = ProductSerializer
    queryset = Product.objects.filter(active=True).order_by("name_en")


class OrderCreate(APIView):
    @extend_schema(
        request=OrderCreateInput,
        responses={
            201: OrderCreatedSerializer,
            **error_responses("invalid", "product_unavailable", "mixed_currencies", "throttled"),
        },
    )
    def post(self, request: Request) -> Response:
        # A product taken off sale between validation and the order is a CheckoutError: the
        # one handler (config.api_errors) answers it.
        data = OrderCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_create(
            items=data.validated_data["items"],
            email=data.validated_data["email"],
            user=request.user,
            language=get_language() or "en",
        )
        return Response(OrderCreatedSerializer(order).data, status=status.HTTP_201_CREATED)


def order_visible(request: Request, order: Order) -> bool:
    """The one rule (checkout.selectors.order_visible_to); a guest's key is X-Client-Secret."""
    return order_visible_to(
        order=order,
        user=request.user,
        session=request.session,
        key=request.headers.get("X-Client-Secret", ""),
    )


def order_for_request(request: Request, number: str) -> Order:
    """The order if this caller may see it; anyone else gets the same 404 as for a number
    that does not exist."""
    order = Order.objects.prefetch_related("lines").filter(number=number).first()
    if order is None or not order_visible(request, order):
        raise NotFound(_("No order with this number was found."))
    return order


class OrderDetail(APIView):
    @extend_schema(
        parameters=[CLIENT_SECRET_PARAMETER],
        responses={200: OrderSerializer, **error_responses("not_found")},
    )
    def get(self, request: Request, number: str) -> Response:
        return Response(OrderSerializer(order_for_request(request, number)).data)
