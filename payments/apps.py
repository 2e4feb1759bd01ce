from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        from . import tasks  # noqa: F401 - registers the outbox handlers
        from .stamps import install_after_migrate

        # After every migrate (and flush), so a table rebuilt by a migration gets them back.
        post_migrate.connect(install_after_migrate, sender=self, dispatch_uid="changestamps")
