"""School days and session dates: the official calendar (holidays and 调休), overridden by coordinators' entries.

The `chinese_calendar` package knows the State Council's public holidays and make-up working days up to the
year it was last released for. CalendarDay rows, entered by coordinators, override it for single dates and
fill in a new year before the package is updated. A year that neither knows is planned on plain Monday to
Friday, and reported by `unknown_years` so that the coordinator is warned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
import sqlalchemy as sa

from childcare.db import db
from childcare.programmes.models import CalendarDay, ProgrammeKind

#: ISO weekdays Monday to Friday: a class running on all of them also runs on make-up working days
SCHOOL_WEEK = frozenset({1, 2, 3, 4, 5})

Overrides = Mapping[date, bool]


@lru_cache(maxsize=64)
def year_is_known(year: int) -> bool:
    """True when the installed chinese_calendar has the official holidays of the year."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def official_school_day(day: date) -> bool:
    """The official answer for a date: a working day is a school day; unknown years fall back to Monday–Friday."""
    if year_is_known(day.year):
        return chinese_calendar.is_workday(day)
    return day.isoweekday() in SCHOOL_WEEK


def calendar_overrides(start: date, end: date) -> dict[date, bool]:
    """The coordinators' CalendarDay entries between two dates, inclusive (one query)."""
    query = sa.select(CalendarDay.on_date, CalendarDay.is_school_day).where(CalendarDay.on_date.between(start, end))
    return {row.on_date: row.is_school_day for row in db.session.execute(query)}


def is_school_day(day: date, overrides: Overrides | None = None) -> bool:
    """Is the date a school day? A CalendarDay entry wins over the official calendar.

    Pass `overrides` (from calendar_overrides) when asking about many dates, to avoid one query per date.
    """
    if overrides is None:
        overrides = calendar_overrides(day, day)
    if day in overrides:
        return overrides[day]
    return official_school_day(day)


def unknown_years(start: date, end: date) -> list[int]:
    """Years of the range that the package does not know and for which nobody entered a CalendarDay."""
    candidates = [year for year in range(start.year, end.year + 1) if not year_is_known(year)]
    if not candidates:
        return []
    first, last = date(candidates[0], 1, 1), date(candidates[-1], 12, 31)
    query = sa.select(CalendarDay.on_date).where(CalendarDay.on_date.between(first, last))
    entered = {on_date.year for on_date in db.session.scalars(query)}
    return [year for year in candidates if year not in entered]


def _dates(starts_on: date, ends_on: date) -> Iterable[date]:
    for offset in range((ends_on - starts_on).days + 1):
        yield starts_on + timedelta(days=offset)


def parse_excluded(values: Iterable[date | str]) -> set[date]:
    """Dates or ISO strings as a set of dates (raises ValueError on a malformed string)."""
    return {value if isinstance(value, date) else date.fromisoformat(str(value).strip()) for value in values}


def session_dates(kind: ProgrammeKind | str, starts_on: date, ends_on: date, weekdays: Iterable[int],
                  excluded_dates: Iterable[date | str] = (), overrides: Overrides | None = None) -> list[date]:
    """The dates a programme meets, in order.

    After-school class (四点半课堂): the school days of the range whose ISO weekday is one of `weekdays`,
    plus the official make-up working days (调休, a Saturday or Sunday that is a school day) when the class
    runs on every weekday Monday to Friday. A make-up day follows the timetable of some weekday that was
    moved; a class that runs every weekday therefore runs that day too, while a class on, say, Tuesdays and
    Thursdays only cannot know whether the moved day was one of its days and does not meet (unless it lists
    that weekend day among its weekdays).

    Holiday camp: every date of the range whose ISO weekday is one of `weekdays`; public holidays are not
    skipped (list them in `excluded_dates` when the camp closes, e.g. over the Spring Festival).

    Both: minus `excluded_dates`. After-school classes read the CalendarDay overrides of the range in one
    query, unless `overrides` is given.
    """
    kind = ProgrammeKind(kind)
    days = set(weekdays)
    excluded = parse_excluded(excluded_dates)
    if ends_on < starts_on:
        return []
    if kind == ProgrammeKind.HOLIDAY_CAMP:
        return [d for d in _dates(starts_on, ends_on) if d.isoweekday() in days and d not in excluded]
    if overrides is None:
        overrides = calendar_overrides(starts_on, ends_on)
    make_up_days_too = days >= SCHOOL_WEEK
    found = []
    for day in _dates(starts_on, ends_on):
        if day in excluded or not is_school_day(day, overrides):
            continue
        weekday = day.isoweekday()
        if weekday in days or (weekday not in SCHOOL_WEEK and make_up_days_too):
            found.append(day)
    return found
