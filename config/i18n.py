"""The two languages the shop speaks, in one place: which one is active, and which of a
record's English/Chinese texts to show."""

from __future__ import annotations

from django.utils.translation import get_language


def is_chinese(language: str | None = None) -> bool:
    """Whether `language` (by default the active one) is Chinese, whatever the variant."""
    return (language if language is not None else get_language() or "").startswith("zh")


def site_language(language: str) -> str:
    """The code we store on records and switch to for emails: "zh-hans" or "en"."""
    return "zh-hans" if is_chinese(language) else "en"


def in_language(english: str, chinese: str, language: str | None = None) -> str:
    """The Chinese text when the language is Chinese and one was written, else the English."""
    return chinese if is_chinese(language) and chinese else english
