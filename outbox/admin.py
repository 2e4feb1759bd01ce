from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import Message
from .services import outbox_retry_now


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "kind",
        "key",
        "created_at",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "gave_up_at",
    )
    list_filter = (
        "kind",
        ("sent_at", admin.EmptyFieldListFilter),
        ("gave_up_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("key", "request_id")
    readonly_fields = [f.name for f in Message._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Deliver again"))
    def retry(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        for row in queryset.filter(sent_at__isnull=True):
            outbox_retry_now(message_id=row.pk)
        self.message_user(request, _("Queued for delivery."), messages.SUCCESS)
