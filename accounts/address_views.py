"""The signed-in person's address book. Every lookup is scoped to request.user, so another
person's address id is a 404, never a 403 that would confirm it exists."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .forms import AddressForm
from .models import Address
from .typing import AuthenticatedHttpRequest


def _own(request: AuthenticatedHttpRequest, pk: int, *, deleted: bool) -> Address:
    return get_object_or_404(Address, pk=pk, user=request.user, deleted_at__isnull=not deleted)


@login_required
def address_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    mine = Address.objects.filter(user=request.user)
    context = {
        "addresses": mine.filter(deleted_at__isnull=True),
        "deleted": mine.filter(deleted_at__gte=services.address_restore_cutoff()).order_by(
            "-deleted_at"
        ),
        "restore_days": services.settings.ADDRESS_RESTORE_DAYS,
    }
    return render(request, "accounts/addresses.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def address_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.address_create(user=request.user, data=form.cleaned_data)
        messages.success(request, _("The address is saved."))
        return redirect("accounts:addresses")
    status = 400 if form.errors else 200
    context = {"form": form, "title": _("Add an address")}
    return render(request, "accounts/address_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def address_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    address = _own(request, pk, deleted=False)
    form = AddressForm(request.POST or None, instance=address)
    if request.method == "POST" and form.is_valid():
        services.address_update(address=address, data=form.cleaned_data)
        messages.success(request, _("The address is saved."))
        return redirect("accounts:addresses")
    status = 400 if form.errors else 200
    context = {"form": form, "title": _("Edit the address")}
    return render(request, "accounts/address_form.html", context, status=status)


@login_required
@require_POST
def address_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    address = services.address_delete(address=_own(request, pk, deleted=False))
    messages.success(
        request,
        _("“%(address)s” is deleted. You can restore it from Recently deleted.")
        % {"address": address},
    )
    return redirect("accounts:addresses")


@login_required
@require_POST
def address_restore(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    address = _own(request, pk, deleted=True)
    try:
        services.address_restore(address=address)
    except services.AddressGone:
        messages.error(request, _("That address was deleted too long ago to restore."))
    else:
        messages.success(request, _("“%(address)s” is restored.") % {"address": address})
    return redirect("accounts:addresses")
