from __future__ import annotations

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import LockoutClearance, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "full_name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "full_name", "phone")
    readonly_fields = ("phone_verified_at", "sign_in_lockout")
    fieldsets = (
        (None, {"fields": ("email", "password", "sign_in_lockout")}),
        (_("Profile"), {"fields": ("full_name", "phone", "phone_verified_at", "language")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    @admin.display(description=_("sign-in lockout"))
    def sign_in_lockout(self, obj: User) -> str:
        state = services.lockout_state(obj.email) if obj.pk else None
        if state is None:
            return str(_("No recent failed sign-ins."))
        if state["locked"] and state["locked_until"]:
            until = formats.date_format(state["locked_until"], "SHORT_DATETIME_FORMAT")
            return str(_("Locked until %(until)s (%(failures)d failed sign-ins).")) % {
                "until": until,
                "failures": state["failures"],
            }
        return str(_("Not locked (%(failures)d recent failed sign-ins).")) % {
            "failures": state["failures"]
        }


# django-axes registers its own admin for AccessAttempt; ours adds a logged "clear" action and
# logs deletions, so every lifted lockout says who lifted it and when (LockoutClearance).
admin.site.unregister(AccessAttempt)


def _admin_user(request: HttpRequest) -> User | None:
    """Who is acting: the admin site lets only signed-in staff in, so never anonymous."""
    return request.user if request.user.is_authenticated else None


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AxesAccessAttemptAdmin):
    actions = ["clear_lockout", *AxesAccessAttemptAdmin.actions]

    @admin.action(description=_("Clear the sign-in lockout of these accounts (logged)"))
    def clear_lockout(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        emails = {u.lower() for u in queryset.values_list("username", flat=True) if u}
        for email in sorted(emails):
            services.lockout_clear(email, _admin_user(request), reason="admin: clear action")
        self.message_user(
            request,
            ngettext(
                "Cleared the lockout of %(count)d account.",
                "Cleared the lockouts of %(count)d accounts.",
                len(emails),
            )
            % {"count": len(emails)},
            messages.SUCCESS,
        )

    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        services.lockout_clear(obj.username or "", _admin_user(request), reason="admin: deleted")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        emails = {u.lower() for u in queryset.values_list("username", flat=True) if u}
        for email in sorted(emails):
            services.lockout_clear(email, _admin_user(request), reason="admin: deleted")


@admin.register(LockoutClearance)
class LockoutClearanceAdmin(admin.ModelAdmin):
    list_display = ("created_at", "email", "actor_label", "reason", "was_locked")
    search_fields = ("email", "actor_label")
    list_filter = ("was_locked",)
    date_hierarchy = "created_at"

    # An audit log: nobody edits or removes it from the admin.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
