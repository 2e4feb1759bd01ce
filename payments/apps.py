from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        from . import tasks  # noqa: F401 - registers the outbox handlers
        from .stamps import drop_before_migrate, install_after_migrate

        # Change-stamp triggers (payments/stamps.py): out of the way of every migrate, and
        # back (every stamp moved) after it and after a flush.
        pre_migrate.connect(drop_before_migrate, sender=self, dispatch_uid="changestamps-drop")
        post_migrate.connect(install_after_migrate, sender=self, dispatch_uid="changestamps")
