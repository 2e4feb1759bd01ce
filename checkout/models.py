from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.i18n import in_language, is_chinese
from payments.models import AppendOnly

# No 0/O or 1/I/L: order numbers are read out over the phone to support.
_NUMBER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_order_number() -> str:
    return "CK-" + "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(8))


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


class Product(models.Model):
    sku = models.SlugField(_("SKU"), max_length=40, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    price = models.PositiveBigIntegerField(_("price (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        ordering = ["name_en"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="checkout_product_price_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name_en}"

    @property
    def name(self) -> str:
        return self.name_zh if is_chinese() else self.name_en

    @property
    def description(self) -> str:
        return self.description_zh if is_chinese() else self.description_en


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting payment")
    PAID = "paid", _("Paid")
    CANCELED = "canceled", _("Canceled")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


class OrderKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    WALLET_TOP_UP = "wallet_top_up", _("Wallet top-up")


class Order(models.Model):
    Status = OrderStatus
    Kind = OrderKind

    number = models.CharField(
        _("order number"), max_length=20, unique=True, default=new_order_number
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        verbose_name=_("customer"),
    )
    email = models.EmailField(_("email address"))
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.CharField(_("country or region"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus, default=OrderStatus.PENDING
    )
    kind = models.CharField(_("kind"), max_length=20, choices=OrderKind, default=OrderKind.PURCHASE)
    total = models.PositiveBigIntegerField(_("total (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    # Lets a guest (no account) read their own order through the API; never shown to anyone else.
    client_secret = models.CharField(max_length=64, default=new_client_secret, editable=False)
    language = models.CharField(_("language"), max_length=10, default="en")
    # One per checkout page session: a double click, a refresh or a second tab finds the same order.
    checkout_token = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    receipt_sent_at = models.DateTimeField(_("receipt sent"), null=True, blank=True)
    # One reminder at most, after a failed attempt left the order unpaid; never if opted out.
    follow_up_sent_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)
    follow_up_opt_out = models.BooleanField(_("no reminders"), default=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="checkout_order_total_gt_0"),
            models.CheckConstraint(
                condition=~Q(status=OrderStatus.PAID) | Q(paid_at__isnull=False),
                name="checkout_order_paid_has_paid_at",
            ),
            # A wallet is always someone's: a top-up needs the account it credits.
            models.CheckConstraint(
                condition=~Q(kind=OrderKind.WALLET_TOP_UP) | Q(user__isnull=False),
                name="checkout_order_top_up_has_user",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_payable(self) -> bool:
        return self.status == OrderStatus.PENDING

    @property
    def is_wallet_top_up(self) -> bool:
        return self.kind == OrderKind.WALLET_TOP_UP


class OrderEvent(AppendOnly):
    """Each move of an order's status, written by checkout.status.order_transition in the same
    transaction as the move: what support reads when a customer asks what happened."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(_("from"), max_length=20)
    to_status = models.CharField(_("to"), max_length=20)
    # Who moved it: "system", "customer:<email>", "provider:<name>", "staff:<email>"...
    actor = models.CharField(_("actor"), max_length=120)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("order event")
        verbose_name_plural = _("order events")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} -> {self.to_status}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, null=True, on_delete=models.SET_NULL)
    # Copied at order time so the order reads the same after the catalogue changes.
    sku = models.CharField(_("SKU"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    # Both names, so the order page, the receipt and the emails speak the order's language.
    name_zh = models.CharField(_("name (Chinese)"), max_length=120, blank=True, default="")
    unit_price = models.PositiveBigIntegerField(_("unit price (minor units)"))
    quantity = models.PositiveIntegerField(_("quantity"))
    line_total = models.PositiveBigIntegerField(_("line total (minor units)"))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="checkout_line_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(line_total=F("unit_price") * F("quantity")),
                name="checkout_line_total_is_price_times_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def display_name(self) -> str:
        """The name in the active language (an email renders in the order's)."""
        return in_language(self.name, self.name_zh)


class CheckoutVisit(models.Model):
    """One per checkout page session (its token): the top of the payment funnel."""

    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.token


class RefundRequestStatus(models.TextChoices):
    OPEN = "open", _("Waiting for an answer")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# The only moves a refund request may make: an agent answers an open one (or the customer takes
# it back); an answer is final (a new request can be made while the window is open).
REFUND_REQUEST_ALLOWED: dict[str, frozenset[str]] = {
    RefundRequestStatus.OPEN: frozenset(
        {RefundRequestStatus.APPROVED, RefundRequestStatus.DECLINED, RefundRequestStatus.WITHDRAWN}
    ),
    RefundRequestStatus.APPROVED: frozenset(),
    RefundRequestStatus.DECLINED: frozenset(),
    RefundRequestStatus.WITHDRAWN: frozenset(),
}


class RefundRequest(models.Model):
    """A customer asking for their money back for a paid order; an agent approves (which makes
    the refund) or declines (with a reason the customer is emailed)."""

    Status = RefundRequestStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="refund_requests", verbose_name=_("order")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="refund_requests",
    )
    reason = models.TextField(_("reason"), max_length=1000)
    # None asks for everything not refunded yet.
    amount = models.PositiveBigIntegerField(_("amount (minor units)"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=RefundRequestStatus.choices,
        default=RefundRequestStatus.OPEN,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    respond_by = models.DateTimeField(_("answer by"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decline_reason = models.TextField(_("why declined"), max_length=1000, blank=True)
    refund = models.ForeignKey(
        "payments.Refund",
        verbose_name=_("refund"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requests",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("refund request")
        verbose_name_plural = _("refund requests")
        constraints = [
            # One open request per order: a double press or two tabs make one request.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status=RefundRequestStatus.OPEN),
                name="checkout_one_open_refund_request",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0),
                name="checkout_refund_request_amount_gt_0",
            ),
            models.CheckConstraint(
                condition=~Q(status=RefundRequestStatus.APPROVED) | Q(refund__isnull=False),
                name="checkout_refund_request_approved_has_refund",
            ),
        ]
        indexes = [
            # The agents' queue: open requests by their answer-by time.
            models.Index(fields=["status", "respond_by"], name="checkout_refund_request_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.order.number} ({self.status})"

    @property
    def is_overdue(self) -> bool:
        return self.status == RefundRequestStatus.OPEN and timezone.now() > self.respond_by
