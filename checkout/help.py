"""Help articles for a failure code, offered in the checkout's failure box before a person is.

Articles are support's, and support sits above checkout (docs/architecture.md): checkout never
imports it. Support hands its finder over in SupportConfig.ready; without it the box simply
offers no articles. Start-up wiring, the same in every process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

ArticleFinder = Callable[[str], Sequence[Any]]

_finder: ArticleFinder | None = None


def help_articles_register(finder: ArticleFinder) -> None:
    """`finder(code)` returns the published articles to suggest for a failure code, best first;
    each has a `slug` and a `title`."""
    global _finder
    _finder = finder


def articles_for(code: str) -> list[Any]:
    return list(_finder(code)) if _finder is not None else []
