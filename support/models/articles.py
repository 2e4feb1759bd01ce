"""Texts written ahead: canned replies for agents and help articles keyed by failure code."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from config.i18n import in_language


class CannedReply(models.Model):
    title = models.CharField(_("title"), max_length=120, unique=True)
    body_en = models.TextField(_("text (English)"))
    body_zh = models.TextField(_("text (Chinese)"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self) -> str:
        return self.title

    def body_for(self, language: str) -> str:
        return in_language(self.body_en, self.body_zh, language)


class HelpArticle(models.Model):
    """Self-service first: what to do about a failure, in the customer's language."""

    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    title_en = models.CharField(_("title (English)"), max_length=200)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200, blank=True)
    body_en = models.TextField(_("text (English)"))
    body_zh = models.TextField(_("text (Chinese)"), blank=True)
    failure_codes = models.JSONField(
        _("failure codes"),
        default=list,
        blank=True,
        help_text=_("Failure codes this article helps with, besides the catalog's own link."),
    )
    categories = models.JSONField(
        _("ticket categories"), default=list, blank=True, help_text=_("For example refund.")
    )
    published = models.BooleanField(_("published"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("help article")
        verbose_name_plural = _("help articles")

    def __str__(self) -> str:
        return self.slug

    @property
    def title(self) -> str:
        return in_language(self.title_en, self.title_zh)

    @property
    def body(self) -> str:
        return in_language(self.body_en, self.body_zh)
