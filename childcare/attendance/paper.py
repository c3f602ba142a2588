"""The paper fallback: a printable sign-in sheet per session, and entering a completed sheet afterwards."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from flask_babel import lazy_gettext as _l

from childcare.accounts.models import User
from childcare.accounts.services import masked_phone
from childcare.attendance import queries, services
from childcare.attendance.models import AttendanceRecord, AttendanceState, EventKind, EventSource, PickupKind
from childcare.attendance.services import apply_event
from childcare.audit.services import record as audit
from childcare.children.models import Child
from childcare.db import utcnow
from childcare.errors import DomainError, InvalidInput
from childcare.i18n import local_zone
from childcare.programmes.models import Programme, ProgrammeSession
from childcare.volunteers.access import ensure_can_staff_session

#: states in which a child has been checked in already (the paper's check-in is then not written again)
CHECKED_IN = frozenset({AttendanceState.PRESENT, AttendanceState.LATE, AttendanceState.CHECKED_OUT})
PRESENT_NOW = frozenset({AttendanceState.PRESENT, AttendanceState.LATE})

_TIME_RE = re.compile(r"^\s*(\d{1,2})\s*[:：.]\s*(\d{2})(?:[:：.]\d{2})?\s*$")


# ---- the printed sheet -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetGuardian:
    """A guardian as printed: name, relation and a masked phone (enough to recognise, not to misuse)."""

    user_id: int
    name: str
    relation: str
    phone: str


@dataclass(frozen=True)
class SheetPickup:
    """An authorised pickup person as printed; a blocked one is printed as NOT authorised."""

    id: int
    name: str
    relation: str
    blocked: bool


@dataclass(frozen=True)
class SheetLine:
    """One child's row on the sheet and on the entry form."""

    child: Child
    state: AttendanceState
    guardians: list[SheetGuardian]
    pickup_persons: list[SheetPickup]

    @property
    def may_go_home_alone(self) -> bool:
        return bool(self.child.may_go_home_alone)


@dataclass(frozen=True)
class Sheet:
    """A session's sign-in sheet: where and when, and the expected children sorted by pinyin."""

    session: ProgrammeSession
    programme: Programme
    lines: list[SheetLine]

    @property
    def venue(self):
        return self.session.venue or self.programme.venue


def _line(line: queries.RosterLine) -> SheetLine:
    guardians = [SheetGuardian(user_id=g.user.id, name=g.user.name, relation=g.relation or "",
                               phone=masked_phone(g.user.phone)) for g in line.guardians]
    pickups = [SheetPickup(id=p.id, name=p.name, relation=p.relation, blocked=p.blocked) for p in line.pickup_persons]
    return SheetLine(child=line.child, state=line.state, guardians=guardians, pickup_persons=pickups)


def sheet_for(*, actor: User, session_id: int) -> Sheet:
    """The printable sheet (and the entry form's rows), for the staff of the session only."""
    session = ensure_can_staff_session(actor, session_id)
    # The roster comes sorted by pinyin, as a class list is read out.
    return Sheet(session=session, programme=session.programme,
                 lines=[_line(line) for line in queries.expected_children(session)])


# ---- entering a completed sheet ----------------------------------------------------------------------------


class PaperState:
    """What the sheet says about a child: came, did not come, or nothing to change."""

    PRESENT = "present"
    ABSENT = "absent"
    LEAVE = ""

    ALL = (PRESENT, ABSENT, LEAVE)


@dataclass
class PaperRow:
    """One child's row as written on the paper sheet (times are local wall-clock, HH:MM)."""

    child_id: int
    state: str = PaperState.LEAVE
    check_in: time | str | None = None
    check_out: time | str | None = None
    pickup_kind: PickupKind | str | None = None
    pickup_guardian_id: int | None = None
    pickup_person_id: int | None = None


class RowInvalid(DomainError):
    """One row of the sheet cannot be entered as written; `field` names the row's input (row-<child id>-<name>)."""

    code = "invalid_row"


class PaperSheetInvalid(DomainError):
    """Some rows cannot be entered; nothing was written. `errors` holds one RowInvalid per problem."""

    code = "paper_sheet_invalid"
    default_message = _l("Some rows need attention. Nothing has been saved yet.")

    def __init__(self, errors: list[RowInvalid]):
        super().__init__(field=errors[0].field if errors else None)
        self.errors = errors


@dataclass
class _Plan:
    """What one row will write, decided before anything is written."""

    child: Child
    check_in_at: datetime | None = None
    absent: bool = False
    check_out_at: datetime | None = None
    pickup: dict[str, Any] = field(default_factory=dict)


def _row(value: PaperRow | Mapping[str, Any]) -> PaperRow:
    if isinstance(value, PaperRow):
        return value
    return PaperRow(**{key: value.get(key) for key in PaperRow.__dataclass_fields__ if key in value})


def parse_time(value: time | str | None, *, field_name: str) -> time | None:
    """'16:35' (or 16：35, 16.35) as a time; empty is None; anything else is refused on that field."""
    if value is None or isinstance(value, time):
        return value
    if not str(value).strip():
        return None
    match = _TIME_RE.match(str(value))
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise RowInvalid(_l("Write the time as hours and minutes, for example 16:35."), field=field_name,
                     code="invalid_time")


def _at(session: ProgrammeSession, value: time) -> datetime:
    """A wall-clock time written on the sheet, on the session's date where the community is, as UTC."""
    return datetime.combine(session.on_date, value, tzinfo=local_zone()).astimezone(UTC)


def _pickup(actor: User, session: ProgrammeSession, row: PaperRow, child: Child, prefix: str) -> dict[str, Any]:
    """The pickup, checked by the roster's own rule: a guardian, an authorised person, or alone when allowed."""
    name = f"{prefix}pickup"
    try:
        kind = PickupKind(row.pickup_kind) if row.pickup_kind else None
    except ValueError:
        kind = None
    # Someone not on the list needs a coordinator's decision at the roster, with a reason: not a paper entry.
    if kind is None or kind == PickupKind.OVERRIDE:
        raise RowInvalid(_l("Choose who picked the child up."), field=name, code="pickup_required")
    try:
        written = services._pickup_name(actor=actor, session=session, child=child, pickup_kind=kind,
                                        pickup_guardian_id=row.pickup_guardian_id,
                                        pickup_person_id=row.pickup_person_id, pickup_name="", override_reason="")
    except DomainError as error:
        raise RowInvalid(error.message, field=name, code=error.code, **error.params) from error
    return {"pickup_kind": kind,
            "pickup_guardian_id": row.pickup_guardian_id if kind == PickupKind.GUARDIAN else None,
            "pickup_person_id": row.pickup_person_id if kind == PickupKind.PICKUP_PERSON else None,
            "pickup_name": written}


def _plan(actor: User, session: ProgrammeSession, row: PaperRow, line: queries.RosterLine,
          now: datetime) -> _Plan | None:
    """Check one row against the rules and say what it will write (None: nothing to write)."""
    child, record, current = line.child, line.record, line.state
    prefix = f"row-{child.id}-"
    state = (row.state or "").strip()
    if state not in PaperState.ALL:
        raise RowInvalid(_l("Choose present, absent or no change."), field=f"{prefix}state", code="invalid_state")
    check_in = parse_time(row.check_in, field_name=f"{prefix}check_in")
    check_out = parse_time(row.check_out, field_name=f"{prefix}check_out")
    plan = _Plan(child=child)
    for value, name in ((check_in, "check_in"), (check_out, "check_out")):
        if value is not None and _at(session, value) > now:
            raise RowInvalid(_l("This time has not come yet. Please check what is written."), field=prefix + name,
                             code="time_in_future")
    if state == PaperState.ABSENT:
        if check_in or check_out or row.pickup_kind:
            raise RowInvalid(_l("An absent child has no check-in or check-out time."), field=f"{prefix}state",
                             code="absent_with_times")
        if current in CHECKED_IN:
            raise RowInvalid(_l("This child has already been checked in. Correct it on the roster instead."),
                             field=f"{prefix}state", code="already_checked_in")
        # Already absent, or excused (on leave): the paper agrees, nothing to write.
        plan.absent = current == AttendanceState.EXPECTED
    elif state == PaperState.PRESENT:
        if check_in is None:
            raise RowInvalid(_l("Write the check-in time."), field=f"{prefix}check_in", code="check_in_required")
        # Checked in already (by QR or at the roster): the earlier check-in stands and is not written twice.
        if current not in CHECKED_IN:
            plan.check_in_at = _at(session, check_in)
    elif check_in is not None:
        raise RowInvalid(_l("Choose present for a child with a check-in time."), field=f"{prefix}state",
                         code="state_required")
    if check_out is None:
        if row.pickup_kind:
            raise RowInvalid(_l("Write the check-out time."), field=f"{prefix}check_out",
                             code="check_out_required")
    elif current != AttendanceState.CHECKED_OUT:
        if state != PaperState.PRESENT and current not in PRESENT_NOW:
            raise RowInvalid(_l("A child must be checked in before checking out."), field=f"{prefix}check_out",
                             code="not_checked_in")
        plan.check_out_at = _at(session, check_out)
        came_at = plan.check_in_at or (record.checked_in_at if record else None)
        if came_at is not None and plan.check_out_at < came_at:
            raise RowInvalid(_l("The check-out time is before the check-in time."), field=f"{prefix}check_out",
                             code="times_out_of_order")
        plan.pickup = _pickup(actor, session, row, child, prefix)
    if plan.check_in_at is None and not plan.absent and plan.check_out_at is None:
        return None
    return plan


def enter_paper_sheet(*, actor: User, session_id: int, rows: Sequence[PaperRow | Mapping[str, Any]]
                      ) -> list[AttendanceRecord]:
    """Enter a completed paper sheet: each row checked as the roster would, then written with source paper."""
    session = ensure_can_staff_session(actor, session_id)
    if session.cancelled:
        raise services.SessionCancelled()
    expected = {line.child.id: line for line in queries.expected_children(session)}
    parsed = [_row(value) for value in rows]
    now = utcnow()
    plans: list[_Plan] = []
    errors: list[RowInvalid] = []
    # Every row is checked before the first write, so a sheet is entered whole or not at all.
    for row in parsed:
        try:
            child_id = int(row.child_id)
        except (TypeError, ValueError) as error:
            raise InvalidInput(code="invalid_row") from error
        line = expected.get(child_id)
        if line is None:
            errors.append(RowInvalid(_l("This child is not expected in this session."), field=f"row-{child_id}-state",
                                     code="not_expected"))
            continue
        try:
            plan = _plan(actor, session, row, line, now)
        except RowInvalid as error:
            errors.append(error)
            continue
        if plan is not None:
            plans.append(plan)
    if errors:
        raise PaperSheetInvalid(errors)
    written: list[AttendanceRecord] = []
    common = {"actor": actor, "session": session, "source": EventSource.PAPER, "from_paper": True}
    for plan in plans:
        record = None
        if plan.absent:
            record = apply_event(child=plan.child, kind=EventKind.MARKED_ABSENT, **common)
        if plan.check_in_at is not None:
            record = apply_event(child=plan.child, kind=EventKind.CHECKED_IN, occurred_at=plan.check_in_at, **common)
        if plan.check_out_at is not None:
            record = apply_event(child=plan.child, kind=EventKind.CHECKED_OUT, occurred_at=plan.check_out_at,
                                 **plan.pickup, **common)
        if record is not None:
            written.append(record)
    audit(actor=actor, action="attendance.paper_sheet_entered", obj=session,
          community_id=session.programme.community_id, after={"children": [p.child.id for p in plans]})
    return written
