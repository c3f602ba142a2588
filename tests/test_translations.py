"""The catalogues are complete and the site speaks Chinese first, English when asked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from childcare.accounts.models import User
from childcare.db import db
from tests.factories import UserFactory

TRANSLATIONS = Path(__file__).resolve().parent.parent / "childcare" / "translations"
PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[sd]")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


@pytest.fixture(scope="module")
def zh_catalog() -> Catalog:
    return _read(TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po", "zh_CN")


def _messages(catalog: Catalog):
    return [message for message in catalog if message.id]


def _strings(value) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def test_every_chinese_message_is_translated_and_none_is_fuzzy(zh_catalog):
    untranslated = [m.id for m in _messages(zh_catalog) if not all(_strings(m.string))]
    fuzzy = [m.id for m in _messages(zh_catalog) if m.fuzzy]
    assert untranslated == []
    assert fuzzy == []


def test_the_english_catalogue_has_no_fuzzy_entry():
    en = _read(TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po", "en")
    assert [m.id for m in _messages(en) if m.fuzzy] == []


def test_every_extracted_message_is_in_the_chinese_catalogue(zh_catalog):
    template = _read(TRANSLATIONS / "messages.pot")
    missing = [m.id for m in _messages(template) if m.id not in zh_catalog]
    assert missing == []


def test_placeholders_survive_translation(zh_catalog):
    wrong = []
    for message in _messages(zh_catalog):
        expected = set()
        for source in _strings(message.id):
            expected |= set(PLACEHOLDER_RE.findall(source))
        for translation in _strings(message.string):
            if set(PLACEHOLDER_RE.findall(translation)) != expected:
                wrong.append((message.id, translation))
    assert wrong == []


def _home_page(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_home_page_is_in_chinese_by_default(client):
    page = _home_page(client)
    assert "社区托管服务" in page
    assert 'lang="zh-CN"' in page


def test_the_language_cookie_switches_to_english(client):
    client.set_cookie("lang", "en")
    page = _home_page(client)
    assert "Community childcare" in page
    assert "社区托管服务" not in page


def test_a_visitor_chooses_english_with_the_language_switch(client, post_form):
    response = post_form("/account/language", {"language": "en", "next": "/"}, token_from="/")
    assert response.status_code == 302
    page = _home_page(client)
    assert "Community childcare" in page
    assert "社区托管服务" not in page


def test_a_logged_in_user_chooses_english_and_it_is_remembered(client, login_as, post_form):
    user = UserFactory()
    login_as(user)
    assert "社区托管服务" in _home_page(client)

    response = post_form("/account/language", {"language": "en", "next": "/"}, token_from="/")
    assert response.status_code == 302
    assert db.session.get(User, user.id).locale == "en"

    client.delete_cookie("lang")  # the saved preference applies without the cookie
    page = _home_page(client)
    assert "Community childcare" in page
    assert "社区托管服务" not in page
