"""Attendance rules: check-in, absence, check-out to an authorised person, corrections, and the alerts.

Every write goes through apply_event(): it appends one AttendanceEvent and moves the AttendanceRecord to the
event's new state in the same savepoint, so the current state always equals the last event's new state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from childcare.accounts.models import User
from childcare.accounts.permissions import can_manage_community
from childcare.attendance import queries
from childcare.attendance.models import (
    AlertKind,
    AttendanceAlert,
    AttendanceEvent,
    AttendanceRecord,
    AttendanceState,
    EventKind,
    EventSource,
    PickupKind,
)
from childcare.audit.services import record as audit
from childcare.children.models import Child, Guardianship, PickupPerson
from childcare.db import db, utcnow
from childcare.enrolment.models import Leave
from childcare.errors import DomainError, Forbidden, InvalidInput, NotFound
from childcare.i18n import to_local
from childcare.notifications.kinds import register_kind
from childcare.notifications.services import notify
from childcare.programmes.models import Programme, ProgrammeSession
from childcare.volunteers.access import ensure_can_staff_session

REASON_MAX = 300
NAME_MAX = 60

register_kind("attendance.checked_in", _l("Arrived"),
              _l("%(child)s checked in at %(programme)s at %(time)s."))
register_kind("attendance.checked_out", _l("Picked up"),
              _l("%(child)s left %(programme)s at %(time)s, taken home by %(who)s."))
register_kind("attendance.went_home_alone", _l("Gone home alone"),
              _l("%(child)s left %(programme)s at %(time)s and went home alone, as you allowed."))
register_kind("attendance.absence_alert", _l("Not arrived"),
              _l("%(child)s has not arrived at %(programme)s, which began at %(time)s. "
                 "If you did not expect this, please call the community at once."))
register_kind("attendance.not_checked_out", _l("Not checked out"),
              _l("%(programme)s ended at %(time)s, but these children were not checked out: %(children)s."))


# ---- refusals ------------------------------------------------------------------------------------------------


class InvalidTransition(DomainError):
    """The event does not fit the child's current state (checking out a child who never arrived)."""

    code = "invalid_transition"
    default_message = _l("This cannot be done in the child's current state. Reload the page.")


class AttendanceConflict(DomainError):
    """Two people changed the same child at once; the later one is told to reload."""

    status = 409
    code = "conflict"
    default_message = _l("Someone else just changed this child; reload.")


class PickupBlocked(DomainError):
    """The guardians have blocked this person from taking the child."""

    code = "pickup_blocked"
    default_message = _l("%(name)s is BLOCKED from picking up this child. Do not hand the child over; "
                         "call the coordinator.")


class PickupNotAuthorised(DomainError):
    """The person is neither a guardian nor an authorised pickup person (nor may the child go alone)."""

    code = "pickup_not_authorised"
    default_message = _l("This person is not authorised to take the child home.")


class SessionCancelled(DomainError):
    """The session does not take place."""

    code = "session_cancelled"
    default_message = _l("This session was cancelled.")


# ---- the one write path ----------------------------------------------------------------------------------------


_ALLOWED: dict[EventKind, frozenset[AttendanceState]] = {
    EventKind.CHECKED_IN: queries.ARRIVABLE,
    EventKind.MARKED_ABSENT: frozenset({AttendanceState.EXPECTED}),
    EventKind.CHECKED_OUT: queries.IN_ROOM,
}


def _programme(session: ProgrammeSession) -> Programme:
    return db.session.get(Programme, session.programme_id)


def _new_state(kind: EventKind, previous: AttendanceState, session: ProgrammeSession, programme: Programme,
               occurred_at: datetime, corrected_to: AttendanceState | None) -> AttendanceState:
    if kind == EventKind.CORRECTED:
        if corrected_to is None or corrected_to == previous:
            raise InvalidTransition()
        return corrected_to
    if previous not in _ALLOWED[kind]:
        raise InvalidTransition()
    if kind == EventKind.CHECKED_IN:
        # Both instants are UTC-aware, so a session crossing local midnight compares correctly.
        late_from = session.starts_at + timedelta(minutes=programme.late_after_minutes)
        return AttendanceState.LATE if occurred_at > late_from else AttendanceState.PRESENT
    if kind == EventKind.MARKED_ABSENT:
        return AttendanceState.ABSENT
    return AttendanceState.CHECKED_OUT


def _move_record(record: AttendanceRecord, new_state: AttendanceState, occurred_at: datetime, pickup_name: str,
                 from_paper: bool) -> None:
    record.state = new_state
    record.from_paper = from_paper
    if new_state in queries.IN_ROOM:
        record.checked_in_at = record.checked_in_at or occurred_at
        record.checked_out_at, record.picked_up_by = None, ""
    elif new_state == AttendanceState.CHECKED_OUT:
        record.checked_in_at = record.checked_in_at or occurred_at
        record.checked_out_at = occurred_at
        record.picked_up_by = pickup_name or record.picked_up_by
    else:
        record.checked_in_at = record.checked_out_at = None
        record.picked_up_by = ""


def apply_event(*, actor: User | None, session: ProgrammeSession, child: Child, kind: EventKind,
                source: EventSource, occurred_at: datetime | None = None, pickup_kind: PickupKind | None = None,
                pickup_guardian_id: int | None = None, pickup_person_id: int | None = None, pickup_name: str = "",
                reason: str = "", from_paper: bool = False,
                new_state: AttendanceState | None = None) -> AttendanceRecord:
    """Append one event and move the child's record with it; callers have checked the actor's rights.

    A correction (kind CORRECTED) sets `new_state` and needs a reason. Guardians hear of check-in and pick-up,
    except for sheets entered from paper afterwards (the moment has passed).
    """
    kind = EventKind(kind)
    occurred_at = occurred_at or utcnow()
    reason = (reason or "").strip()
    if kind == EventKind.CORRECTED and not reason:
        raise InvalidInput(_l("Give a reason for the correction."), field="reason", code="reason_required")
    programme = _programme(session)
    record = db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.session_id == session.id,
                                                                 AttendanceRecord.child_id == child.id))
    on_leave = db.session.scalar(sa.select(Leave.id).where(Leave.session_id == session.id,
                                                           Leave.child_id == child.id, Leave.cancelled_at.is_(None)))
    previous = queries.current_state(record, on_leave is not None)
    state = _new_state(kind, previous, session, programme, occurred_at,
                       AttendanceState(new_state) if new_state is not None else None)
    event = AttendanceEvent(session_id=session.id, child_id=child.id, kind=kind, source=EventSource(source),
                            previous_state=previous, new_state=state, occurred_at=occurred_at,
                            actor_id=getattr(actor, "id", None),
                            pickup_kind=PickupKind(pickup_kind) if pickup_kind else None,
                            pickup_guardian_id=pickup_guardian_id, pickup_person_id=pickup_person_id,
                            pickup_name=(pickup_name or "")[:NAME_MAX], reason=reason[:REASON_MAX])
    try:
        # Event and record succeed or fail together; a losing concurrent writer leaves no stray event behind.
        with db.session.begin_nested():
            db.session.add(event)
            db.session.flush()
            if record is None:
                record = AttendanceRecord(session_id=session.id, child_id=child.id, state=state)
                db.session.add(record)
            _move_record(record, state, occurred_at, event.pickup_name, from_paper)
            record.last_event_id = event.id
            db.session.flush()
    except (StaleDataError, IntegrityError) as error:
        # StaleDataError: the version column moved under us. IntegrityError: another writer created the record
        # for this child and session first. Either way someone else just changed this child.
        raise AttendanceConflict() from error
    audit(actor=actor, action=f"attendance.{kind.value}", object_type="attendance_record", object_id=record.id,
          community_id=programme.community_id, before={"state": previous.value},
          after={"state": state.value, "session_id": session.id, "child_id": child.id, "source": event.source.value,
                 "pickup": event.pickup_name}, reason=reason)
    if not from_paper and kind in (EventKind.CHECKED_IN, EventKind.CHECKED_OUT):
        _tell_guardians(child, programme, event)
    return record


def _tell_guardians(child: Child, programme: Programme, event: AttendanceEvent) -> None:
    kind = "attendance.checked_in" if event.kind == EventKind.CHECKED_IN else "attendance.checked_out"
    if event.pickup_kind == PickupKind.ALONE:
        kind = "attendance.went_home_alone"
    when = f"{to_local(event.occurred_at):%H:%M}"
    guardians = db.session.scalars(sa.select(User).join(Guardianship, Guardianship.user_id == User.id)
                                   .where(Guardianship.child_id == child.id).order_by(User.id))
    for guardian in guardians:
        notify(guardian, kind, child=child.name, programme=programme.title, time=when, who=event.pickup_name)


# ---- what the staff at the door do ---------------------------------------------------------------------------------


def _staffed(actor: User, session_id: int, child_id: int | None = None) -> tuple[ProgrammeSession, Child | None]:
    """The session the actor staffs (else 404) and, when asked, a child on its roster (else 404)."""
    session = ensure_can_staff_session(actor, session_id)
    if session.cancelled:
        raise SessionCancelled()
    if child_id is None:
        return session, None
    child = db.session.get(Child, child_id)
    if child is None or not queries.is_on_roster(session, child_id):
        raise NotFound()
    return session, child


def check_in(*, actor: User, session_id: int, child_id: int,
             source: EventSource = EventSource.ROSTER) -> AttendanceRecord:
    """The child has arrived: present, or late when after the start plus the programme's allowance."""
    session, child = _staffed(actor, session_id, child_id)
    return apply_event(actor=actor, session=session, child=child, kind=EventKind.CHECKED_IN, source=source)


def mark_absent(*, actor: User, session_id: int, child_id: int,
                source: EventSource = EventSource.ROSTER) -> AttendanceRecord:
    """The child did not come (and had no leave): marked absent, which stops the absence alert."""
    session, child = _staffed(actor, session_id, child_id)
    return apply_event(actor=actor, session=session, child=child, kind=EventKind.MARKED_ABSENT, source=source)


def mark_rest_absent(*, actor: User, session_id: int) -> int:
    """Mark every child still 'expected' absent (not the excused, not those checked in); answers how many."""
    session, _ = _staffed(actor, session_id)
    marked = 0
    for line in queries.expected_children(session):
        if line.state == AttendanceState.EXPECTED:
            apply_event(actor=actor, session=session, child=line.child, kind=EventKind.MARKED_ABSENT,
                        source=EventSource.ROSTER)
            marked += 1
    return marked


def authorised_pickup_name(*, actor: User, session: ProgrammeSession, child: Child, pickup_kind: PickupKind,
                           pickup_guardian_id: int | None, pickup_person_id: int | None, pickup_name: str,
                           override_reason: str) -> str:
    """The one pick-up rule: who takes the child, if they may; answers the name written down ("" for alone)."""
    if pickup_kind == PickupKind.GUARDIAN:
        guardian = db.session.scalar(sa.select(User).join(Guardianship, Guardianship.user_id == User.id)
                                     .where(Guardianship.child_id == child.id, User.id == pickup_guardian_id))
        if guardian is None:
            raise PickupNotAuthorised(field="pickup")
        return guardian.name
    if pickup_kind == PickupKind.PICKUP_PERSON:
        person = db.session.get(PickupPerson, pickup_person_id) if pickup_person_id else None
        if person is None or person.child_id != child.id:
            raise PickupNotAuthorised(field="pickup")
        if person.blocked:
            raise PickupBlocked(field="pickup", name=person.name)
        return person.name
    if pickup_kind == PickupKind.ALONE:
        if not child.may_go_home_alone:
            raise PickupNotAuthorised(_l("The guardians have not allowed this child to go home alone."),
                                      field="pickup")
        return ""
    # Someone not on the list: only the community's coordinator may decide, with a reason and the person's name.
    if not can_manage_community(actor, _programme(session).community_id):
        raise PickupNotAuthorised(_l("Only a coordinator can hand a child to someone not on the list."),
                                  field="pickup")
    name = (pickup_name or "").strip()
    if not name:
        raise InvalidInput(_l("Write down the name of the person taking the child."), field="pickup_name",
                           code="name_required")
    if not (override_reason or "").strip():
        raise InvalidInput(_l("Give a reason for handing the child to someone not on the list."),
                           field="override_reason", code="reason_required")
    blocked = db.session.scalar(sa.select(PickupPerson.name).where(PickupPerson.child_id == child.id,
                                                                   PickupPerson.blocked.is_(True),
                                                                   PickupPerson.name == name))
    if blocked:
        raise PickupBlocked(field="pickup", name=blocked)
    return name


#: the paper sheet (attendance.paper) checks its rows with the same rule under this older name
_pickup_name = authorised_pickup_name


def check_out(*, actor: User, session_id: int, child_id: int, pickup_kind: PickupKind | str | None,
              pickup_guardian_id: int | None = None, pickup_person_id: int | None = None,
              override_reason: str = "", pickup_name: str = "",
              source: EventSource = EventSource.ROSTER) -> AttendanceRecord:
    """Hand the child to a guardian, an authorised pickup person, or let them go alone when allowed."""
    session, child = _staffed(actor, session_id, child_id)
    try:
        kind = PickupKind(pickup_kind) if pickup_kind else None
    except ValueError:
        kind = None
    if kind is None:
        raise InvalidInput(_l("Choose who takes the child home."), field="pickup", code="pickup_required")
    name = authorised_pickup_name(actor=actor, session=session, child=child, pickup_kind=kind,
                                  pickup_guardian_id=pickup_guardian_id, pickup_person_id=pickup_person_id,
                                  pickup_name=pickup_name, override_reason=override_reason)
    return apply_event(actor=actor, session=session, child=child, kind=EventKind.CHECKED_OUT, source=source,
                       pickup_kind=kind,
                       pickup_guardian_id=pickup_guardian_id if kind == PickupKind.GUARDIAN else None,
                       pickup_person_id=pickup_person_id if kind == PickupKind.PICKUP_PERSON else None,
                       pickup_name=name, reason=override_reason.strip() if kind == PickupKind.OVERRIDE else "")


def correct(*, actor: User, session_id: int, child_id: int, new_state: AttendanceState | str,
            reason: str) -> AttendanceRecord:
    """A coordinator sets a child's state by hand, with a reason; the log keeps both the mistake and the fix."""
    session, child = _staffed(actor, session_id, child_id)
    if not can_manage_community(actor, _programme(session).community_id):
        raise Forbidden(_l("Only the community's coordinator can correct attendance."))
    try:
        state = AttendanceState(new_state)
    except ValueError as error:
        raise InvalidInput(_l("Choose a state."), field="new_state") from error
    return apply_event(actor=actor, session=session, child=child, kind=EventKind.CORRECTED,
                       source=EventSource.ROSTER, reason=reason, new_state=state)


# ---- alerts (called by the jobs) -------------------------------------------------------------------------------------


def _raise_alert(session_id: int, child_id: int, kind: AlertKind) -> bool:
    """Insert the alert unless it exists; True when this call raised it. The unique index decides a race."""
    exists = db.session.scalar(sa.select(AttendanceAlert.id).where(
        AttendanceAlert.session_id == session_id, AttendanceAlert.child_id == child_id, AttendanceAlert.kind == kind))
    if exists:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(AttendanceAlert(session_id=session_id, child_id=child_id, kind=kind))
            db.session.flush()
    except IntegrityError:
        return False
    return True


def alert_absences(*, now: datetime | None = None) -> int:
    """Children still 'expected' some minutes after the start of a running session: one alert each, once."""
    now = now or utcnow()
    running = db.session.scalars(
        sa.select(ProgrammeSession).join(Programme, Programme.id == ProgrammeSession.programme_id)
        .where(ProgrammeSession.starts_at <= now, ProgrammeSession.ends_at > now,
               ProgrammeSession.cancelled.is_(False))
        .order_by(ProgrammeSession.id)).all()
    raised = 0
    for session in running:
        programme = _programme(session)
        if now < session.starts_at + timedelta(minutes=programme.absence_alert_minutes):
            continue
        for line in queries.expected_children(session):
            if line.state != AttendanceState.EXPECTED or line.absence_alert:
                continue
            if not _raise_alert(session.id, line.child.id, AlertKind.ABSENT):
                continue
            raised += 1
            for guardianship in line.guardians:
                notify(guardianship.user, "attendance.absence_alert", child=line.child.name,
                       programme=programme.title, time=f"{to_local(session.starts_at):%H:%M}")
    return raised


def sweep_not_checked_out(*, now: datetime | None = None) -> int:
    """Children still in the room some minutes after the end: one alert each, told to the session's staff."""
    now = now or utcnow()
    open_records = db.session.execute(
        sa.select(AttendanceRecord.child_id, ProgrammeSession)
        .join(ProgrammeSession, ProgrammeSession.id == AttendanceRecord.session_id)
        .where(AttendanceRecord.state.in_(queries.IN_ROOM), ProgrammeSession.ends_at <= now,
               ~sa.exists().where(AttendanceAlert.session_id == AttendanceRecord.session_id,
                                  AttendanceAlert.child_id == AttendanceRecord.child_id,
                                  AttendanceAlert.kind == AlertKind.NOT_CHECKED_OUT))
        .order_by(ProgrammeSession.id, AttendanceRecord.child_id)).all()
    by_session: dict[int, tuple[ProgrammeSession, list[int]]] = {}
    for child_id, session in open_records:
        by_session.setdefault(session.id, (session, []))[1].append(child_id)
    raised = 0
    for session, child_ids in by_session.values():
        programme = _programme(session)
        if now < session.ends_at + timedelta(minutes=programme.sweep_after_minutes):
            continue
        new = [child_id for child_id in child_ids if _raise_alert(session.id, child_id, AlertKind.NOT_CHECKED_OUT)]
        if not new:
            continue
        raised += len(new)
        names = "、".join(db.session.scalars(sa.select(Child.name).where(Child.id.in_(new)).order_by(Child.id)))
        staff = {u.id: u for u in queries.session_volunteers(session.id)}
        staff.update({u.id: u for u in queries.community_coordinators(programme.community_id)})
        for user in staff.values():
            notify(user, "attendance.not_checked_out", programme=programme.title, children=names,
                   time=f"{to_local(session.ends_at):%H:%M}",
                   link=f"/attendance/sessions/{session.id}")
    return raised
