from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = _("Support")

    def ready(self) -> None:
        from accounts.signals import account_deleted

        from . import tasks  # noqa: F401 - registers the outbox handlers
        from .services import requester_forget

        account_deleted.connect(requester_forget, dispatch_uid="support.requester_forget")
