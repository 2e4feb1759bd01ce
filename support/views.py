"""Customer side of the support desk: the help page, tickets and help articles."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.typing import AuthenticatedHttpRequest
from checkout.selectors import refund_visible_to
from payments.failures import failure_for

from . import services
from .chat.services import agents_online
from .forms import RatingForm, ReplyForm, TicketForm
from .limits import refused
from .models import Ticket
from .selectors import article_search as search_articles
from .selectors import (
    articles_for,
    attached_payment,
    is_agent,
    remember_ticket,
    ticket_visible,
)


def _initial(request: HttpRequest, source: dict[str, str]) -> dict[str, Any]:
    order, attempt = attached_payment(request, source.get("order", ""), source.get("attempt", ""))
    code = source.get("code", "")[:60]
    appeal = source.get("appeal") in ("1", "True", "true", "on")
    initial: dict[str, Any] = {"code": code, "appeal": appeal}
    user = request.user
    if user.is_authenticated:
        initial |= {"email": user.email, "name": user.full_name}
    if order is not None:
        initial |= {
            "order": order.number,
            "email": initial.get("email") or order.email,
            "name": initial.get("name") or order.full_name,
            "category": Ticket.Category.PAYMENT_FAILED,
        }
        if appeal:
            subject = _("Please review my payment for order %(number)s") % {"number": order.number}
        elif attempt is not None:
            subject = _("My payment for order %(number)s did not go through") % {
                "number": order.number
            }
        else:
            subject = _("Help with order %(number)s") % {"number": order.number}
        initial["subject"] = subject
    if attempt is not None:
        initial["attempt"] = str(attempt.public_id)
        initial["code"] = code or attempt.failure_code
    return {"initial": initial, "order": order, "attempt": attempt}


def _render_home(
    request: HttpRequest, form: TicketForm, attached: dict[str, Any], status: int = 200
) -> HttpResponse:
    code = form["code"].value() or ""
    failure = failure_for(code) if code else None
    context = {
        "form": form,
        "order": attached["order"],
        "attempt": attached["attempt"],
        "failure": failure,
        "articles": articles_for(code),
        "agents_online": agents_online(),
        "recent_tickets": (
            Ticket.objects.filter(requester=request.user)[:5]
            if request.user.is_authenticated
            else []
        ),
    }
    return render(request, "support/home.html", context, status=status)


def support_home(request: HttpRequest) -> HttpResponse:
    """Self-service first: articles for the problem, then chat, then a ticket — with what we
    already know about the payment filled in."""
    attached = _initial(request, request.GET)
    return _render_home(request, TicketForm(initial=attached["initial"]), attached)


def ticket_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return support_home(request)
    form = TicketForm(request.POST)
    attached = _initial(request, request.POST)
    if not form.is_valid():
        return _render_home(request, form, attached, status=400)
    if limited := refused(request, "write_ip"):
        return limited
    data = form.cleaned_data
    order, attempt = attached["order"], attached["attempt"]
    if data["appeal"] and attempt is not None:
        source = Ticket.Source.RISK_APPEAL
    elif attempt is not None:
        source = Ticket.Source.FAILURE_SCREEN
    else:
        source = Ticket.Source.SUPPORT_PAGE
    ticket = services.ticket_open(
        email=data["email"],
        name=data["name"],
        subject=data["subject"],
        body=data["message"],
        category=data["category"],
        source=source,
        requester=request.user,
        order=order,
        attempt=attempt,
        failure_code=attempt.failure_code if attempt is not None else "",
        language=get_language() or "en",
    )
    remember_ticket(request, ticket)
    messages.success(
        request,
        _("Thank you. Your request is ticket %(number)s; we have emailed you a link to it.")
        % {"number": ticket.number},
    )
    return redirect("support:ticket", number=ticket.number)


def _ticket_for(request: HttpRequest, number: str) -> Ticket:
    ticket = (
        Ticket.objects.select_related("order", "attempt", "assignee")
        .filter(number=number[:12])
        .first()
    )
    if ticket is None or not ticket_visible(request, ticket, request.GET.get("key", "")):
        # The same 404 as a number that does not exist: ticket numbers are not an oracle.
        raise Http404
    return ticket


def ticket_detail(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _ticket_for(request, number)
    if request.GET.get("key"):
        # Remember the emailed link in this browser, then drop the key from the address bar
        # so it does not leak through history or the Referer header.
        remember_ticket(request, ticket)
        return redirect("support:ticket", number=ticket.number)
    agent_viewing = is_agent(request.user) and ticket.requester_id != request.user.pk
    form = ReplyForm()
    status, reply_refused = 200, ""
    if request.method == "POST":
        if agent_viewing:
            return redirect("admin:support_ticket_change", ticket.pk)
        form = ReplyForm(request.POST)
        if form.is_valid():
            try:
                services.ticket_customer_reply(
                    ticket=ticket, body=form.cleaned_data["message"], user=request.user
                )
            except services.TicketError as error:  # closed: final, a new request is needed
                reply_refused, status = str(error), 409
            else:
                messages.success(request, _("Your reply was added. We will answer by email."))
                return redirect("support:ticket", number=ticket.number)
        else:
            status = 400
    context = {
        "ticket": ticket,
        "thread": ticket.messages.filter(internal=False).select_related("author"),
        "form": form,
        "rating_form": RatingForm(),
        "can_rate": ticket.rating is None
        and ticket.status in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED),
        "agent_viewing": agent_viewing,
        "reply_refused": reply_refused,
        "articles": articles_for(ticket.failure_code, ticket.category),
    }
    return render(request, "support/ticket.html", context, status=status)


@require_POST
def ticket_rate(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _ticket_for(request, number)
    form = RatingForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one answer to rate the help you got."))
        return redirect(reverse("support:ticket", args=[ticket.number]) + "#rate")
    try:
        services.ticket_rate(
            ticket=ticket, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"]
        )
    except services.TicketError:
        messages.info(request, _("This ticket has already been rated. Thank you!"))
    else:
        messages.success(request, _("Thank you for telling us how we did."))
    return redirect("support:ticket", number=ticket.number)


@login_required
def ticket_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    page = Paginator(
        Ticket.objects.filter(requester=request.user).order_by("-created_at"), 20
    ).get_page(request.GET.get("page"))
    return render(request, "support/ticket_list.html", {"page": page})


def article_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    results = search_articles(query) if query else []
    return render(request, "support/article_search.html", {"query": query, "results": results})


def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    from .models import HelpArticle

    article = get_object_or_404(HelpArticle, slug=slug, published=True)
    return render(request, "support/article.html", {"article": article})


@require_POST
def refund_ticket(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """ "Where is my refund?" on the refund's status page: a ticket with the refund attached, for
    whoever may see the refund (the owner, or the guest holding the order's link)."""
    from payments.models import Refund

    refund = (
        Refund.objects.select_related("attempt__order", "attempt__method")
        .filter(public_id=public_id)
        .first()
    )
    if refund is None or not refund_visible_to(
        refund=refund, user=request.user, session=request.session, key=request.POST.get("key", "")
    ):
        raise Http404
    if limited := refused(request, "write_ip"):
        return limited
    ticket = services.ticket_open_about_refund(
        refund=refund,
        requester=request.user,
        note=request.POST.get("note", "")[:5000],
        language=get_language() or "en",
    )
    remember_ticket(request, ticket)
    messages.success(
        request,
        _("Thank you. Your question is ticket %(number)s; we have emailed you a link to it.")
        % {"number": ticket.number},
    )
    return redirect("support:ticket", number=ticket.number)
