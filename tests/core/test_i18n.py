"""Vietnamese first, English available: the committed .mo matches the .po, every msgid has an
English text, and pages render in English once the language is switched.

The .po is read by a small parser here, so the check needs neither GNU gettext nor polib.
"""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from ehealth.core.models import Role
from tests.core.factories import make_staff

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
PO_PATH = LOCALE_DIR / "django.po"
MO_PATH = LOCALE_DIR / "django.mo"

_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def parse_po(text: str) -> list[dict]:
    """Entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (list), fuzzy flag."""
    entries: list[dict] = []
    entry: dict = {}
    field = None

    def flush():
        nonlocal entry
        if "msgid" in entry:
            entries.append(entry)
        entry = {}

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
            field = None
            continue
        if line.startswith("#,"):
            if "msgid" in entry:
                flush()
            entry["fuzzy"] = "fuzzy" in line
            continue
        if line.startswith("#"):
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, index, literal = match.groups()
            if keyword in ("msgctxt", "msgid") and "msgstr" in entry:
                flush()
            value = ast.literal_eval(literal)
            if keyword.startswith("msgstr"):
                field = ("msgstr", int(index or 0))
                entry.setdefault("msgstr", {})[field[1]] = value
            else:
                field = (keyword, None)
                entry[keyword] = value
        elif line.startswith('"') and field is not None:
            value = ast.literal_eval(line)
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] += value
            else:
                entry[field[0]] += value
    flush()
    return entries


def _po_entries() -> list[dict]:
    return [e for e in parse_po(PO_PATH.read_text(encoding="utf-8")) if e["msgid"] != ""]


def _key(entry: dict) -> str:
    return f"{entry['msgctxt']}\x04{entry['msgid']}" if "msgctxt" in entry else entry["msgid"]


def test_every_msgid_has_an_english_translation():
    entries = _po_entries()
    assert len(entries) > 100
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in entries if e.get("fuzzy")]
    assert untranslated == [], "run `make messages` and translate these"
    assert fuzzy == [], "review these fuzzy translations"


def test_translations_keep_the_placeholders_of_the_msgid():
    placeholder = re.compile(r"%\(\w+\)[sd]|\{\w*\}")
    for entry in _po_entries():
        wanted = set(placeholder.findall(entry["msgid"]))
        for text in entry["msgstr"].values():
            assert set(placeholder.findall(text)) == wanted, entry["msgid"]


def test_compiled_mo_is_up_to_date_with_the_po():
    # given the .po as written and the .mo as committed
    with MO_PATH.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)._catalog
    expected: dict = {}
    for entry in _po_entries():
        if entry.get("fuzzy") or not all(entry["msgstr"].values()):
            continue  # msgfmt leaves these out
        if "msgid_plural" in entry:
            for index, text in entry["msgstr"].items():
                expected[(_key(entry), index)] = text
        else:
            expected[_key(entry)] = entry["msgstr"][0]
    compiled = {k: v for k, v in catalog.items() if k != ""}  # "" is the header
    # then both hold the same translations: `manage.py compilemessages` was run after the last edit
    assert compiled == expected


@pytest.mark.django_db
def test_login_page_renders_in_english_after_switching_language(client):
    # given the Vietnamese default
    response = client.get(reverse("login"))
    assert 'lang="vi"' in response.content.decode()
    assert "Đăng nhập" in response.content.decode()
    # when the visitor picks English in the language switcher
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    assert response.status_code == 302
    # then the page is in English
    body = client.get(reverse("login")).content.decode()
    assert 'lang="en"' in body
    assert "Sign in" in body
    assert "Username" in body and "Password" in body
    assert "Đăng nhập" not in body


@pytest.mark.django_db
def test_home_and_form_errors_render_in_english(client, facility):
    user = make_staff(facility, Role.UNIT_ADMIN)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    # a failed sign-in says so in English
    response = client.post(reverse("login"), {"username": user.username, "password": "nope"})
    assert "Wrong username or password." in response.content.decode()
    # and the signed-in layout is English too
    client.force_login(user)
    body = client.get(reverse("home")).content.decode()
    for text in ("Home", "Sign out", "Audit log", "Unit administrator"):
        assert text in body


@pytest.mark.django_db
def test_vietnamese_is_shown_whatever_the_browser_language(client):
    # given a workstation whose browser asks for English
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    # then the page is still Vietnamese until the user switches
    body = response.content.decode()
    assert 'lang="vi"' in body
    assert "Đăng nhập" in body
