"""Programmes: coordinators create and change them; their sessions are planned from the school calendar.

Capacity is not changed here: a larger capacity must promote waiting lists under the seat lock, so it
belongs to enrolment.services.change_capacity.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from childcare.accounts.models import Role, User
from childcare.accounts.permissions import ensure_manages_community
from childcare.audit.services import record
from childcare.db import db, utcnow
from childcare.errors import DomainError, Forbidden, InvalidInput, NotFound
from childcare.i18n import local_zone
from childcare.places.models import Community, Venue
from childcare.programmes import schedule
from childcare.programmes.models import (
    Allocation,
    CalendarDay,
    EnrolmentMode,
    PriorityGroup,
    Programme,
    ProgrammeKind,
    ProgrammeSession,
    Promotion,
)

E = TypeVar("E", bound=enum.Enum)

#: column widths and sane bounds, kept in step with the models
TITLE_MAX = 120
DESCRIPTION_MAX = 4000
THEMES_MAX = 400
GROUP_NAME_MAX = 80
NOTE_MAX = 200
CALENDAR_NAME_MAX = 80
CAPACITY_MAX = 1000
OFFER_HOURS_MAX = 24 * 14
FEE_CENTS_MAX = 1_000_000
AGE_MAX = 18
GRADE_MAX = 9
#: one school year or one holiday fits easily; a longer range is a typing slip
RANGE_DAYS_MAX = 366

#: fields that decide the sessions' dates and times
SCHEDULE_FIELDS = frozenset({"kind", "starts_on", "ends_on", "weekdays", "excluded_dates", "start_time", "end_time"})
#: staffing and attendance settings, with their defaults: volunteers, the roster and the alert jobs read them
STAFFING_DEFAULTS = {
    "children_per_adult": 10, "min_volunteers": 1, "claim_cutoff_hours": 2, "pause_enrolment_when_understaffed": False,
    "late_after_minutes": 10, "absence_alert_minutes": 15, "sweep_after_minutes": 20,
}
#: what update_programme may change (capacity is enrolment.services.change_capacity)
EDITABLE_FIELDS = frozenset({
    "kind", "title", "starts_on", "ends_on", "weekdays", "start_time", "end_time", "mode", "allocation",
    "promotion", "offer_hours", "needs_approval", "venue_id", "description", "themes", "fee_cents", "min_age",
    "max_age", "min_grade", "max_grade", "registration_opens_at", "registration_closes_at", "excluded_dates",
    "priority_groups", "previous_programme_id", "previous_unsuccessful_first", "published",
    *STAFFING_DEFAULTS,
})


class InvalidProgramme(InvalidInput):
    """A programme's details are missing, out of range or contradict each other."""

    code = "invalid_programme"


class NoSessions(InvalidProgramme):
    """The dates, weekdays and school calendar leave no day on which the programme would meet."""

    code = "no_sessions"
    default_message = _l("No session falls on these dates and weekdays. Please check the dates and weekdays.")


class SessionOverlap(DomainError):
    """Another session of the programme already starts at that time."""

    status = 422
    code = "overlap"
    default_message = _l("Another session of this programme already starts at this time.")


# ---- input checks ---------------------------------------------------------------------------------------------


def _text(value: str | None, *, limit: int, field: str, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidProgramme(_l("Please fill in this field."), field=field)
    if len(text) > limit:
        raise InvalidProgramme(_l("This may have at most %(n)s characters."), field=field, n=limit)
    return text


def _choice(enum_cls: type[E], value: E | str, field: str) -> E:
    try:
        return enum_cls(value)
    except ValueError:
        raise InvalidProgramme(_l("Please choose one of the listed options."), field=field) from None


def _whole(value: Any, *, field: str, low: int, high: int, optional: bool = False) -> int | None:
    if value is None or value == "":
        if optional:
            return None
        raise InvalidProgramme(_l("Please fill in this field."), field=field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidProgramme(_l("Please enter a whole number."), field=field)
    if not low <= value <= high:
        raise InvalidProgramme(_l("Please enter a number from %(low)s to %(high)s."), field=field, low=low, high=high)
    return value


def _date(value: Any, field: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date | str):
        raise InvalidProgramme(_l("Please enter a date."), field=field)
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidProgramme(_l("Please enter a date."), field=field) from None
    return value


def _time(value: Any, field: str) -> time:
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            raise InvalidProgramme(_l("Please enter a time."), field=field) from None
    if not isinstance(value, time):
        raise InvalidProgramme(_l("Please enter a time."), field=field)
    return value.replace(second=0, microsecond=0, tzinfo=None)


def to_utc(value: datetime | None, field: str | None = None) -> datetime | None:
    """An instant in UTC; a naive datetime is wall-clock time where the communities are (TIMEZONE)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    try:
        utc = value.astimezone(UTC)
        utc.astimezone(local_zone())  # it is shown in local time, so it must exist there too
    except OverflowError:
        # At the very ends of the calendar (year 1, year 9999) the same instant in UTC or local time falls outside it.
        raise InvalidProgramme(_l("This date and time is out of range. Please check it."), field=field) from None
    return utc


def local_instant(day: date, at: time) -> datetime:
    """Local date and wall-clock time as a UTC instant."""
    return to_utc(datetime.combine(day, at))


def _weekdays(value: Iterable[int | str] | str | None) -> str:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    try:
        days = sorted({int(v) for v in value or ()})
    except (TypeError, ValueError):
        days = [0]
    if not days or any(not 1 <= d <= 7 for d in days):
        raise InvalidProgramme(_l("Please choose at least one weekday."), field="weekdays")
    return ",".join(str(d) for d in days)


def _excluded(values: Iterable[date | str] | None) -> list[str]:
    try:
        dates = schedule.parse_excluded(values or ())
    except (TypeError, ValueError):
        raise InvalidProgramme(_l("Please write dates as 2026-02-16, separated by commas."),
                               field="excluded_dates") from None
    return [d.isoformat() for d in sorted(dates)]


def _groups(values: Iterable[str] | None) -> list[str]:
    names: list[str] = []
    for value in values or ():
        name = _text(value, limit=GROUP_NAME_MAX, field="priority_groups")
        if name and name not in names:
            names.append(name)
    return names


def _ordered(low: Any, high: Any, field: str, message: Any) -> None:
    if low is not None and high is not None and high < low:
        raise InvalidProgramme(message, field=field)


def _clean(values: dict[str, Any], *, community_id: int, programme_id: int | None = None) -> dict[str, Any]:
    """Every field checked and normalised to the model's form; raises on the first field that is wrong."""
    v = dict(values)
    v["kind"] = _choice(ProgrammeKind, v["kind"], "kind")
    v["title"] = _text(v["title"], limit=TITLE_MAX, field="title", required=True)
    v["description"] = _text(v["description"], limit=DESCRIPTION_MAX, field="description")
    themes = v["themes"]
    if not isinstance(themes, str):
        themes = ",".join(themes or ())
    v["themes"] = _text(",".join(t.strip() for t in themes.replace("，", ",").split(",") if t.strip()),
                        limit=THEMES_MAX, field="themes")
    v["capacity"] = _whole(v["capacity"], field="capacity", low=0, high=CAPACITY_MAX)
    v["mode"] = _choice(EnrolmentMode, v["mode"], "mode")
    v["allocation"] = _choice(Allocation, v["allocation"], "allocation")
    v["promotion"] = _choice(Promotion, v["promotion"], "promotion")
    v["offer_hours"] = _whole(v["offer_hours"], field="offer_hours", low=1, high=OFFER_HOURS_MAX)
    v["needs_approval"] = bool(v["needs_approval"])
    v["published"] = bool(v["published"])
    v["previous_unsuccessful_first"] = bool(v["previous_unsuccessful_first"])
    v["starts_on"] = _date(v["starts_on"], "starts_on")
    v["ends_on"] = _date(v["ends_on"], "ends_on")
    _ordered(v["starts_on"], v["ends_on"], "ends_on", _l("The last day cannot be before the first day."))
    if (v["ends_on"] - v["starts_on"]).days >= RANGE_DAYS_MAX:
        raise InvalidProgramme(_l("A programme may last at most one year."), field="ends_on")
    v["start_time"] = _time(v["start_time"], "start_time")
    v["end_time"] = _time(v["end_time"], "end_time")
    if v["end_time"] <= v["start_time"]:
        raise InvalidProgramme(_l("The end time must be after the start time."), field="end_time")
    v["weekdays"] = _weekdays(v["weekdays"])
    v["excluded_dates"] = _excluded(v["excluded_dates"])
    for low, high, top in (("min_age", "max_age", AGE_MAX), ("min_grade", "max_grade", GRADE_MAX)):
        v[low] = _whole(v[low], field=low, low=0, high=top, optional=True)
        v[high] = _whole(v[high], field=high, low=0, high=top, optional=True)
    _ordered(v["min_age"], v["max_age"], "max_age", _l("The highest age cannot be below the lowest age."))
    _ordered(v["min_grade"], v["max_grade"], "max_grade", _l("The highest grade cannot be below the lowest grade."))
    v["fee_cents"] = _whole(v["fee_cents"] or 0, field="fee_cents", low=0, high=FEE_CENTS_MAX)
    v["registration_opens_at"] = to_utc(v["registration_opens_at"], "registration_opens_at")
    v["registration_closes_at"] = to_utc(v["registration_closes_at"], "registration_closes_at")
    _ordered(v["registration_opens_at"], v["registration_closes_at"], "registration_closes_at",
             _l("Registration cannot close before it opens."))
    if v["venue_id"] is not None:
        venue = db.session.get(Venue, v["venue_id"])
        if venue is None or venue.community_id != community_id:
            raise InvalidProgramme(_l("Please choose a venue of the programme's community."), field="venue_id")
    if v["previous_programme_id"] is not None:
        previous = db.session.get(Programme, v["previous_programme_id"])
        if previous is None or previous.community_id != community_id or previous.id == programme_id:
            raise InvalidProgramme(_l("Please choose an earlier programme of the same community."),
                                   field="previous_programme_id")
    v["priority_groups"] = _groups(v["priority_groups"])
    # Staffing and attendance settings (volunteers and the roster read them).
    for key, default in STAFFING_DEFAULTS.items():
        v.setdefault(key, default)
    v["children_per_adult"] = _whole(v["children_per_adult"], field="children_per_adult", low=1, high=50)
    v["min_volunteers"] = _whole(v["min_volunteers"], field="min_volunteers", low=0, high=20)
    v["claim_cutoff_hours"] = _whole(v["claim_cutoff_hours"], field="claim_cutoff_hours", low=0, high=168)
    v["pause_enrolment_when_understaffed"] = bool(v["pause_enrolment_when_understaffed"])
    v["late_after_minutes"] = _whole(v["late_after_minutes"], field="late_after_minutes", low=0, high=120)
    v["absence_alert_minutes"] = _whole(v["absence_alert_minutes"], field="absence_alert_minutes", low=1, high=240)
    v["sweep_after_minutes"] = _whole(v["sweep_after_minutes"], field="sweep_after_minutes", low=1, high=240)
    return v


# ---- reading for managers ------------------------------------------------------------------------------------


def get_programme_for_manager(*, actor: User, programme_id: int) -> Programme:
    """The programme, if the actor runs its community; otherwise 'not found' (as if it were not there)."""
    programme = db.session.get(Programme, programme_id)
    if programme is None:
        raise NotFound()
    ensure_manages_community(actor, programme.community_id, hide=True)
    return programme


def schedule_warnings(programme: Programme) -> list[str]:
    """Translated warnings about the programme's schedule: years whose official holidays are not known."""
    if programme.kind != ProgrammeKind.AFTER_SCHOOL:
        return []
    return [_("The official holidays and make-up working days of %(year)s are not known yet, so sessions were "
              "planned on Monday to Friday. Please enter that year's holidays and make-up working days in the "
              "school calendar.", year=year)
            for year in schedule.unknown_years(programme.starts_on, programme.ends_on)]


# ---- sessions ------------------------------------------------------------------------------------------------


def sessions_in_use(session_ids: Iterable[int]) -> set[int]:
    """Sessions some other row refers to (a booking, a leave, a shift, attendance): they are never deleted.

    Read from the schema rather than by importing the features above programmes, so that a new table that
    refers to sessions is covered without a change here.
    """
    ids = list(session_ids)
    if not ids:
        return set()
    sessions_table = ProgrammeSession.__table__
    used: set[int] = set()
    for table in db.metadata.sorted_tables:
        if table is sessions_table:
            continue
        for fk in table.foreign_keys:
            if fk.column is sessions_table.c.id:
                query = sa.select(fk.parent).where(fk.parent.in_(ids)).distinct()
                used.update(db.session.scalars(query))
    return used


def _plan_new(programme: Programme, dates: Iterable[date]) -> int:
    added = 0
    for day in dates:
        db.session.add(ProgrammeSession(programme_id=programme.id, on_date=day, venue_id=programme.venue_id,
                                        starts_at=local_instant(day, programme.start_time),
                                        ends_at=local_instant(day, programme.end_time)))
        added += 1
    return added


def replan_sessions(programme: Programme, *, old_start: time, old_end: time, old_venue_id: int | None,
                    overrides: schedule.Overrides | None = None) -> dict[str, int]:
    """Bring the future sessions in line with the programme's schedule; past sessions are history.

    A future session on a date that still belongs follows the new times and venue unless it was changed by
    hand. One on a date that no longer belongs is deleted when nothing refers to it, and cancelled when
    somebody booked it or notified leave for it. Missing future dates get a session.
    """
    now = utcnow()
    wanted = set(schedule.session_dates(programme.kind, programme.starts_on, programme.ends_on,
                                        programme.weekday_list, programme.excluded_dates, overrides))
    existing = list(db.session.scalars(sa.select(ProgrammeSession)
                                       .where(ProgrammeSession.programme_id == programme.id)
                                       .order_by(ProgrammeSession.starts_at, ProgrammeSession.id)))
    future = [s for s in existing if s.starts_at > now]
    covered = {s.on_date for s in existing if s.starts_at <= now}
    in_use = sessions_in_use(s.id for s in future)
    counts = {"added": 0, "cancelled": 0, "removed": 0, "moved": 0}
    for item in future:
        if item.on_date in wanted and item.on_date not in covered:
            covered.add(item.on_date)
            if (item.starts_at, item.ends_at) == (local_instant(item.on_date, old_start),
                                                  local_instant(item.on_date, old_end)):
                new_times = (local_instant(item.on_date, programme.start_time),
                             local_instant(item.on_date, programme.end_time))
                if new_times != (item.starts_at, item.ends_at):
                    item.starts_at, item.ends_at = new_times
                    counts["moved"] += 1
            if item.venue_id == old_venue_id:
                item.venue_id = programme.venue_id
        elif item.id in in_use:
            if not item.cancelled:
                item.cancelled = True
                counts["cancelled"] += 1
        else:
            db.session.delete(item)
            counts["removed"] += 1
    # Deletions first, so that a new session never meets a deleted one on the unique (programme, starts_at).
    db.session.flush()
    missing = sorted(d for d in wanted - covered if local_instant(d, programme.start_time) > now)
    counts["added"] = _plan_new(programme, missing)
    db.session.flush()
    db.session.expire(programme, ["sessions"])
    return counts


def _set_priority_groups(programme: Programme, names: list[str]) -> None:
    """Keep groups whose names remain (enrolments refer to them), drop the others, rank in the given order."""
    current = {group.name: group for group in programme.priority_groups}
    for name, group in current.items():
        if name not in names:
            programme.priority_groups.remove(group)
    # Ranks are unique per programme: park the kept ones out of the way before numbering them again.
    for offset, group in enumerate(g for g in programme.priority_groups):
        group.rank = -1 - offset
    db.session.flush()
    for rank, name in enumerate(names, start=1):
        group = current.get(name)
        if group is None:
            programme.priority_groups.append(PriorityGroup(name=name, rank=rank))
        else:
            group.rank = rank
    db.session.flush()
    db.session.expire(programme, ["priority_groups"])


# ---- writing -------------------------------------------------------------------------------------------------

_AUDITED = ("kind", "title", "capacity", "starts_on", "ends_on", "weekdays", "start_time", "end_time", "mode",
            "allocation", "promotion", "offer_hours", "needs_approval", "venue_id", "description", "themes",
            "fee_cents", "min_age", "max_age", "min_grade", "max_grade", "registration_opens_at",
            "registration_closes_at", "excluded_dates", "previous_programme_id", "previous_unsuccessful_first",
            "published", *STAFFING_DEFAULTS)


def create_programme(*, actor: User, community_id: int, kind: ProgrammeKind | str, title: str, capacity: int,
                     starts_on: date, ends_on: date, weekdays: Iterable[int] | str, start_time: time,
                     end_time: time, mode: EnrolmentMode | str = "whole", allocation: Allocation | str = "first_come",
                     promotion: Promotion | str = "auto", offer_hours: int = 24, needs_approval: bool = False,
                     venue_id: int | None = None, description: str = "", themes: str | Iterable[str] = "",
                     fee_cents: int = 0, min_age: int | None = None, max_age: int | None = None,
                     min_grade: int | None = None, max_grade: int | None = None,
                     registration_opens_at: datetime | None = None, registration_closes_at: datetime | None = None,
                     excluded_dates: Iterable[date | str] = (), priority_groups: Iterable[str] = (),
                     previous_programme_id: int | None = None, previous_unsuccessful_first: bool = False,
                     published: bool = True, **staffing: Any) -> Programme:
    """Create a programme in a community the actor runs and plan its sessions from the school calendar."""
    ensure_manages_community(actor, community_id)
    if db.session.get(Community, community_id) is None:
        raise NotFound()
    unknown = sorted(set(staffing) - set(STAFFING_DEFAULTS))
    if unknown:
        raise InvalidInput(_l("This field cannot be changed."), field=unknown[0])
    given = {key: value for key, value in locals().items() if key not in ("actor", "community_id", "staffing",
                                                                           "unknown")}
    values = _clean({**given, **staffing}, community_id=community_id)
    dates = schedule.session_dates(values["kind"], values["starts_on"], values["ends_on"],
                                   [int(d) for d in values["weekdays"].split(",")], values["excluded_dates"])
    if not dates:
        raise NoSessions(field="weekdays")
    groups = values.pop("priority_groups")
    programme = Programme(community_id=community_id, **values)
    programme.priority_groups = [PriorityGroup(name=name, rank=rank) for rank, name in enumerate(groups, start=1)]
    db.session.add(programme)
    db.session.flush()
    _plan_new(programme, dates)
    db.session.flush()
    record(actor=actor, action="programme.created", obj=programme,
           after={**{key: getattr(programme, key) for key in _AUDITED}, "priority_groups": groups,
                  "sessions": len(dates)})
    return programme


def update_programme(*, actor: User, programme_id: int, **changes: Any) -> Programme:
    """Change a programme (not its capacity); future sessions follow a changed schedule or venue."""
    programme = get_programme_for_manager(actor=actor, programme_id=programme_id)
    if "capacity" in changes:
        raise InvalidProgramme(_l("The capacity is changed on the enrolment screen, where the waiting list "
                                  "moves up with it."), field="capacity", code="capacity_elsewhere")
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(_l("This field cannot be changed."), field=unknown[0])
    current = {key: getattr(programme, key) for key in _AUDITED}
    current["priority_groups"] = [group.name for group in programme.priority_groups]
    values = _clean({**current, **changes}, community_id=programme.community_id, programme_id=programme.id)
    before = {key: current[key] for key in values if values[key] != current[key]}
    after = {key: values[key] for key in before}
    if not after:
        return programme
    if SCHEDULE_FIELDS & set(after) and not schedule.session_dates(
            values["kind"], values["starts_on"], values["ends_on"],
            [int(d) for d in values["weekdays"].split(",")], values["excluded_dates"]):
        raise NoSessions(field="weekdays")
    for key, value in after.items():
        if key != "priority_groups":
            setattr(programme, key, value)
    if "priority_groups" in after:
        _set_priority_groups(programme, after["priority_groups"])
    db.session.flush()
    if SCHEDULE_FIELDS & set(after) or "venue_id" in after:
        counts = replan_sessions(programme, old_start=current["start_time"], old_end=current["end_time"],
                                 old_venue_id=current["venue_id"])
        after.update({f"sessions_{key}": value for key, value in counts.items()})
    record(actor=actor, action="programme.updated", obj=programme, before=before, after=after)
    return programme


def update_session(*, actor: User, session_id: int, starts_at_local: datetime | None = None,
                   ends_at_local: datetime | None = None, venue_id: int | None = None, cancelled: bool | None = None,
                   note: str | None = None) -> ProgrammeSession:
    """Move, relocate, annotate, cancel or restore one session (naive datetimes are local wall-clock time)."""
    item = db.session.get(ProgrammeSession, session_id)
    if item is None:
        raise NotFound()
    programme = item.programme
    ensure_manages_community(actor, programme.community_id, hide=True)
    starts_at = to_utc(starts_at_local, "starts_at_local") if starts_at_local is not None else item.starts_at
    ends_at = to_utc(ends_at_local, "ends_at_local") if ends_at_local is not None else item.ends_at
    if ends_at <= starts_at:
        raise InvalidProgramme(_l("The end time must be after the start time."), field="ends_at_local")
    if ends_at - starts_at > timedelta(hours=24):
        raise InvalidProgramme(_l("A session may last at most one day."), field="ends_at_local")
    if venue_id is not None:
        venue = db.session.get(Venue, venue_id)
        if venue is None or venue.community_id != programme.community_id:
            raise InvalidProgramme(_l("Please choose a venue of the programme's community."), field="venue_id")
    changes: dict[str, Any] = {"starts_at": starts_at, "ends_at": ends_at,
                               "on_date": starts_at.astimezone(local_zone()).date()}
    if venue_id is not None:
        changes["venue_id"] = venue_id
    if cancelled is not None:
        changes["cancelled"] = bool(cancelled)
    if note is not None:
        changes["note"] = _text(note, limit=NOTE_MAX, field="note")
    before = {key: getattr(item, key) for key, value in changes.items() if getattr(item, key) != value}
    after = {key: changes[key] for key in before}
    if not after:
        return item
    try:
        # The unique (programme, starts_at) decides a clash; the SAVEPOINT keeps the unit of work usable.
        with db.session.begin_nested():
            for key, value in after.items():
                setattr(item, key, value)
    except sa.exc.IntegrityError:
        raise SessionOverlap(field="starts_at_local") from None
    action = "programme.session_updated"
    if after.get("cancelled") is True:
        action = "programme.session_cancelled"
    elif after.get("cancelled") is False:
        action = "programme.session_restored"
    record(actor=actor, action=action, obj=item, community_id=programme.community_id, before=before, after=after)
    return item


# ---- the school calendar ------------------------------------------------------------------------------------


def _ensure_calendar_keeper(actor: User) -> None:
    if not (actor.is_admin or actor.has_role(Role.COORDINATOR)):
        raise Forbidden()


def _replan_around(actor: User, on_date: date) -> list[int]:
    """After-school classes meeting around a changed calendar date follow it (future, unused sessions only)."""
    query = (sa.select(Programme).where(Programme.kind == ProgrammeKind.AFTER_SCHOOL,
                                        Programme.starts_on <= on_date, Programme.ends_on >= on_date)
             .order_by(Programme.id))
    replanned = []
    for programme in db.session.scalars(query):
        counts = replan_sessions(programme, old_start=programme.start_time, old_end=programme.end_time,
                                 old_venue_id=programme.venue_id)
        if any(counts.values()):
            record(actor=actor, action="programme.sessions_replanned", obj=programme,
                   after={"on_date": on_date, **counts})
            replanned.append(programme.id)
    return replanned


def may_change_calendar_day(actor: User, day: CalendarDay) -> bool:
    """The calendar is every community's: an entry is changed or removed by whoever entered it, or an administrator,
    so that one coordinator's slip cannot re-plan the classes of communities that are not theirs."""
    return actor.is_admin or (day.created_by_id is not None and day.created_by_id == actor.id)


def set_calendar_day(*, actor: User, on_date: date, is_school_day: bool, name: str = "") -> CalendarDay:
    """Enter a public holiday or make-up working day (coordinators, administrators); classes follow it."""
    _ensure_calendar_keeper(actor)
    on_date = _date(on_date, "on_date")
    name = _text(name, limit=CALENDAR_NAME_MAX, field="name")
    day = db.session.scalar(sa.select(CalendarDay).where(CalendarDay.on_date == on_date))
    if day is not None and not may_change_calendar_day(actor, day):
        raise InvalidInput(_l("Another coordinator entered this date. Please ask them or an administrator to change "
                              "it."), field="on_date")
    before = None
    if day is None:
        day = CalendarDay(on_date=on_date, is_school_day=bool(is_school_day), name=name, created_by_id=actor.id)
        db.session.add(day)
    else:
        before = {"is_school_day": day.is_school_day, "name": day.name}
        day.is_school_day, day.name = bool(is_school_day), name
    db.session.flush()
    replanned = _replan_around(actor, on_date)
    record(actor=actor, action="programme.calendar_day_set", obj=day, before=before,
           after={"on_date": on_date, "is_school_day": day.is_school_day, "name": name, "replanned": replanned})
    return day


def delete_calendar_day(*, actor: User, calendar_day_id: int) -> None:
    """Remove an entry: the date follows the official calendar again, and so do the classes."""
    _ensure_calendar_keeper(actor)
    day = db.session.get(CalendarDay, calendar_day_id)
    if day is None:
        raise NotFound()
    if not may_change_calendar_day(actor, day):
        raise Forbidden(_l("Another coordinator entered this date. Please ask them or an administrator to change "
                           "it."))
    before = {"on_date": day.on_date, "is_school_day": day.is_school_day, "name": day.name}
    db.session.delete(day)
    db.session.flush()
    replanned = _replan_around(actor, before["on_date"])
    record(actor=actor, action="programme.calendar_day_deleted", object_type="calendar_days",
           object_id=calendar_day_id, before=before, after={"replanned": replanned})
