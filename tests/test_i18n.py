"""Every user-facing string has its Simplified Chinese translation, and the compiled catalogue
that ships is the one the .po file says."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from payments.failures import CATALOG
from tests.checkout.helpers import checkout_form, fill_cart, pay

LOCALE = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def parse_po(path: Path) -> list[dict[str, object]]:
    """A small .po reader: entries with msgid, msgid_plural, msgstr(s) and flags."""
    entries: list[dict[str, object]] = []
    entry: dict[str, object] = {}
    key = None
    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            if entry:
                entries.append(entry)
            entry, key = {}, None
        elif line.startswith("#,"):
            entry["flags"] = {f.strip() for f in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
    return [e for e in entries if e.get("msgid")]


ENTRIES = parse_po(LOCALE / "django.po")


def translations(entry: dict[str, object]) -> list[str]:
    return [str(v) for k, v in entry.items() if k.startswith("msgstr")]


def test_catalogue_is_not_empty():
    assert len(ENTRIES) > 200


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: str(e["msgid"])[:40])
def test_every_string_is_translated_with_the_same_placeholders(entry):
    assert "fuzzy" not in entry.get("flags", set())
    for text in translations(entry):
        assert text.strip(), f"untranslated: {entry['msgid']!r}"
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(str(entry["msgid"])))


def test_compiled_catalogue_matches_the_po_file():
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in ENTRIES:
        if "msgid_plural" in entry:
            got = compiled.ngettext(str(entry["msgid"]), str(entry["msgid_plural"]), 1)
            assert got == entry["msgstr[0]"], entry["msgid"]
        else:
            assert compiled.gettext(str(entry["msgid"])) == entry["msgstr"], entry["msgid"]


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_every_failure_entry_reads_in_chinese(code):
    entry = CATALOG[code]
    with translation.override("zh-hans"):
        texts = [str(entry.message), *(str(step) for step in entry.guidance)]
    with translation.override("en"):
        english = [str(entry.message), *(str(step) for step in entry.guidance)]
    for zh, en in zip(texts, english, strict=True):
        assert zh != en and re.search(r"[\u4e00-\u9fff]", zh), f"{code}: {en!r} is not translated"


@pytest.mark.django_db
def test_checkout_and_decline_in_chinese(client, shop):
    client.cookies["django_language"] = "zh-hans"
    fill_cart(client, "mug")
    page = client.get(reverse("checkout:checkout")).content.decode()
    assert '<html lang="zh-hans">' in page
    assert "结账" in page and "支付 US$12.00" in page and "支付宝" in page
    declined = pay(
        client, checkout_form(client), payment_method="pm_card_chargeDeclinedExpiredCard"
    )
    body = declined.content.decode()
    assert "此卡片已过期。" in body and "支付未成功" in body


@pytest.mark.django_db
def test_language_switcher_remembers_the_choice(client, shop):
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in page and "马克杯" in page and "US$12.00" in page


@pytest.mark.django_db
def test_browser_language_is_followed(client, shop):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in page
