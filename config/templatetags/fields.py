"""`{% field form.email %}`: a form field as every form here shows it — label, "(optional)",
help, the error (announced, tied to the input by aria-describedby) and the input itself.

Written in Python because it is on every form page, several times: the same markup from two
included templates cost the checkout page about a millisecond in seven fields, most of it in
the template engine resolving the same lookups again per attribute. The markup is pinned by
tests/test_field_tag.py.
"""

from __future__ import annotations

import html
from typing import Any

from django import template
from django.forms import BoundField
from django.utils.formats import localize
from django.utils.functional import Promise
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

register = template.Library()


def _text(value: Any) -> str:
    """A value as `{{ value }}` prints it: localized, then escaped unless already safe."""
    if isinstance(value, Promise):
        value = str(value)  # a translated label or message
    if type(value) is str:
        # Most values: what conditional_escape does to text (localize leaves text alone),
        # without its detours.
        return html.escape(value)
    return str(conditional_escape(localize(value)))


def _described_by(field_id: str, errors: bool, help_text: bool) -> str:
    ids = [f"{field_id}-error"] if errors else []
    if help_text:
        ids.append(f"{field_id}-help")
    return f' aria-describedby="{" ".join(ids)}"' if ids else ""


def _attrs(attrs: dict[str, Any], *, leave_out: str = "") -> str:
    return "".join(f' {_text(k)}="{_text(v)}"' for k, v in attrs.items() if k != leave_out)


def _widget(field: BoundField, field_id: str) -> str:
    widget = field.field.widget
    kind = widget.template_name
    name = _text(field.html_name)
    marks = ' required aria-required="true"' if field.field.required else ""
    errors = bool(field.errors)
    tail = (' aria-invalid="true"' if errors else "") + _described_by(
        field_id, errors, bool(field.help_text)
    )
    value = field.value()
    if "textarea" in kind:
        body = "" if value is None else _text(value)
        return (
            f'<textarea name="{name}" id="{field_id}"{_attrs(widget.attrs)}{marks}{tail}>'
            f"{body}</textarea>\n\n"
        )
    if "select.html" in kind:
        chosen = str(value)
        options = "".join(
            f'<option value="{_text(v)}"{" selected" if chosen == str(v) else ""}>'
            f"{_text(label)}</option>"
            for v, label in field.field.choices  # type: ignore[attr-defined]
        )
        return f'<select name="{name}" id="{field_id}"{marks}{tail}>{options}</select>\n\n'
    input_type = widget.input_type
    shown = f' value="{_text(value)}"' if value is not None and input_type != "password" else ""
    # Focus is the page's to move (to the error summary or the first field), never a field's.
    attrs = _attrs(widget.attrs, leave_out="autofocus")
    messages = field.field.error_messages
    if marks:
        marks += f' data-msg-required="{_text(messages.get("required", ""))}"'
    if input_type == "email":
        marks += f' data-msg-invalid="{_text(messages.get("invalid", ""))}"'
    return (
        f'<input type="{_text(input_type)}" name="{name}" id="{field_id}"{shown}{attrs}{marks}'
        f"{tail}>\n"
    )


@register.simple_tag
def field(bound: BoundField) -> SafeString:
    field_id = _text(bound.id_for_label)
    optional = (
        ""
        if bound.field.required
        else f' <span class="optional">{_text(gettext("(optional)"))}</span>'
    )
    help_text = (
        f'<p class="help" id="{field_id}-help">{_text(bound.help_text)}</p>'
        if bound.help_text
        else ""
    )
    error = (
        f'<p class="error" id="{field_id}-error"><span class="visually-hidden">'
        f"{_text(gettext('Error:'))}</span> {_text(bound.errors[0])}</p>"
        if bound.errors
        else ""
    )
    return mark_safe(  # noqa: S308 - every value above is escaped by _text
        f'<div class="field{" has-error" if bound.errors else ""}">\n'
        f'  <label for="{field_id}">{_text(bound.label)}{optional}</label>\n'
        f"  {help_text}\n"
        f"  {error}\n"
        f"  {_widget(bound, field_id)}\n</div>\n"
    )
