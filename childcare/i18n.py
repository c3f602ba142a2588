"""Language choice (user preference, then cookie, then Chinese) and local-time display."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import get_day_names
from babel.lists import format_list
from flask import Flask, current_app, has_request_context, request
from flask_babel import format_date, format_datetime, get_locale, gettext
from flask_login import current_user

LANGUAGE_COOKIE = "lang"


def supported_locales() -> tuple[str, ...]:
    return tuple(current_app.config["LANGUAGES"])


def normalise_locale(value: str | None) -> str | None:
    """Accept 'zh', 'zh-CN', 'zh_CN', 'en', 'en-US' and answer one of ours, or None."""
    if not value:
        return None
    value = value.replace("-", "_")
    for locale in supported_locales():
        if value.lower() == locale.lower() or value.split("_")[0].lower() == locale.split("_")[0].lower():
            return locale
    return None


def select_locale() -> str:
    """The user's saved choice, else the cookie; the API also honours Accept-Language; else zh_CN."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    user_locale = getattr(current_user, "locale", None) if current_user else None
    chosen = normalise_locale(user_locale)
    if chosen:
        return chosen
    chosen = normalise_locale(request.cookies.get(LANGUAGE_COOKIE))
    if chosen:
        return chosen
    if request.path.startswith("/api/") and request.accept_languages:
        for language, _quality in request.accept_languages:
            chosen = normalise_locale(language)
            if chosen:
                return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def local_zone() -> ZoneInfo:
    """The configured display time zone (Asia/Shanghai unless told otherwise)."""
    return ZoneInfo(current_app.config["TIMEZONE"])


def to_local(value: datetime) -> datetime:
    """A stored UTC instant as wall-clock time where the community is."""
    return value.astimezone(local_zone())


def local_today() -> date:
    """Today's date where the community is (not in UTC: 07:00 in Shanghai is still yesterday in UTC)."""
    from childcare.db import utcnow

    return to_local(utcnow()).date()


def localtime(value: datetime | None, fmt: str = "medium") -> str:
    """Jinja filter: an instant shown in local time, in the user's language."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def localdate(value: date | datetime | None, fmt: str = "medium") -> str:
    """Jinja filter: a date in the user's language."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value).date()
    return format_date(value, fmt)


def locallist(values) -> str:
    """Jinja filter: a list in the user's language (星期一、星期二和星期三; Monday, Tuesday, and Wednesday)."""
    items = [str(value) for value in values]
    return format_list(items, locale=get_locale()) if items else ""


def weekdays(numbers) -> str:
    """Jinja filter: weekdays numbered 1 (Monday) to 7 as people say them: 星期一至星期五、星期日; every day."""
    days = sorted({number for number in numbers if 1 <= number <= 7})
    if len(days) == 7:
        return gettext("Every day")
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    names = get_day_names("wide", locale=get_locale())
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(gettext("%(first)s to %(last)s", first=names[run[0] - 1], last=names[run[-1] - 1]))
        else:
            parts.extend(names[day - 1] for day in run)
    return locallist(parts)


def register_i18n(app: Flask) -> None:
    """Template filters for local time and lists; the selector is wired by the Babel extension."""
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(localdate, "localdate")
    app.add_template_filter(locallist, "locallist")
    app.add_template_filter(weekdays, "weekdays")
