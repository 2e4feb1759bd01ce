from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = _("Support")

    def ready(self) -> None:
        # Support is the top app: the apps below hand it their extension points here rather
        # than import it (docs/architecture.md).
        from accounts.signals import account_deleted
        from checkout.help import help_articles_register
        from checkout.signals import demo_seeding

        from . import tasks  # noqa: F401 - registers the outbox handlers
        from .seed import on_demo_seeding
        from .selectors import articles_for
        from .services import requester_forget

        account_deleted.connect(requester_forget, dispatch_uid="support.requester_forget")
        demo_seeding.connect(on_demo_seeding, dispatch_uid="support.seed")
        help_articles_register(articles_for)
