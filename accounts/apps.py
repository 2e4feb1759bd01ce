from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        from . import tasks  # noqa: F401 - registers the outbox handlers
        from .backends import record_failure

        def count_failure(sender: Any, credentials: dict, request: Any = None, **kw: Any) -> None:
            record_failure(request, credentials.get("username"))

        user_login_failed.connect(count_failure, dispatch_uid="accounts.count_failure", weak=False)
