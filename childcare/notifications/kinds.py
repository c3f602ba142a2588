"""The catalogue of notification kinds: a title and a body, each a translatable template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Kind:
    """How one kind of notification reads; %(name)s placeholders come from its data."""

    title: Any
    body: Any


KINDS: dict[str, Kind] = {
    "account.welcome": Kind(_l("Welcome"), _l("Welcome, %(name)s. Your account is ready.")),
    "account.password_changed": Kind(_l("Password changed"),
                                     _l("Your password was changed. If this was not you, call your community.")),
    "account.role_granted": Kind(_l("New role"), _l("You are now %(role)s %(community)s.")),
}


def register_kind(name: str, title: Any, body: Any) -> None:
    """Features add their kinds at import time (enrolment, attendance, …)."""
    KINDS[name] = Kind(title, body)


class _Safe(dict):
    def __missing__(self, key: str) -> str:
        return ""


def template_pair(kind: str) -> tuple[str, str]:
    """The title and body templates of a kind in the current locale (an unknown kind shows its name)."""
    spec = KINDS.get(kind)
    if spec is None:
        return kind.replace("%", "%%"), ""
    return str(spec.title), str(spec.body)


def fill(templates: tuple[str, str], data: dict[str, Any]) -> tuple[str, str]:
    """Title and body with the data's values put in (a value the data lacks reads as empty)."""
    values = _Safe({k: ("" if v is None else v) for k, v in data.items()})
    return templates[0] % values, templates[1] % values


def render(kind: str, data: dict[str, Any]) -> tuple[str, str]:
    """Title and body in the current locale; unknown kinds still show something."""
    return fill(template_pair(kind), data)
