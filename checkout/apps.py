from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CheckoutConfig(AppConfig):
    name = "checkout"
    verbose_name = _("Checkout")

    def ready(self) -> None:
        from payments.orders import order_book_register
        from payments.stamps import watch

        from . import tasks  # noqa: F401 - registers the outbox handlers
        from .payable import CheckoutOrderBook

        # Payments sits below checkout and reaches orders only through this (docs/architecture.md).
        order_book_register(CheckoutOrderBook())
        # Products a process keeps between requests (checkout.selectors.cart_get).
        watch("catalog", "checkout_product")
