"""{{ moment|shopper_time }}: config.shopper_time.time_label in templates."""

from __future__ import annotations

from datetime import datetime

from django import template

from config.shopper_time import time_label

register = template.Library()


@register.filter(name="shopper_time")
def shopper_time(moment: datetime | None) -> str:
    return time_label(moment) if moment is not None else ""
