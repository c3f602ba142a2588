"""Read side of attendance: the roster of a session, today's sessions of a staff member, the event log.

Every query here is bounded: a roster costs the same handful of queries for five children or fifty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from pypinyin import lazy_pinyin
from sqlalchemy.orm import joinedload, selectinload

from childcare.accounts.models import Role, RoleGrant, User
from childcare.accounts.permissions import managed_community_ids
from childcare.attendance.models import AlertKind, AttendanceAlert, AttendanceEvent, AttendanceRecord, AttendanceState
from childcare.children.models import Child, Guardianship, PickupPerson
from childcare.db import db
from childcare.enrolment.models import SEAT_HOLDING, Enrolment, Leave
from childcare.programmes.models import EnrolmentMode, Programme, ProgrammeSession
from childcare.volunteers.access import sessions_served_by
from childcare.volunteers.models import Shift, ShiftStatus

#: states in which the child is in the room and must be handed over before the day ends
IN_ROOM = frozenset({AttendanceState.PRESENT, AttendanceState.LATE})
#: states from which a check-in is allowed
ARRIVABLE = frozenset({AttendanceState.EXPECTED, AttendanceState.ABSENT, AttendanceState.EXCUSED})


@dataclass
class RosterLine:
    """One child on a session's roster, with everything the volunteer at the door needs."""

    child: Child
    state: AttendanceState
    record: AttendanceRecord | None
    on_leave: bool
    guardians: list[Guardianship] = field(default_factory=list)
    pickup_persons: list[PickupPerson] = field(default_factory=list)
    alerts: set[AlertKind] = field(default_factory=set)

    @property
    def has_allergy(self) -> bool:
        return bool((self.child.allergies or "").strip())

    @property
    def has_special_needs(self) -> bool:
        return bool((self.child.special_needs or "").strip())

    @property
    def photo_consent(self) -> bool:
        return self.child.photo_consent

    @property
    def may_go_home_alone(self) -> bool:
        return self.child.may_go_home_alone

    @property
    def absence_alert(self) -> bool:
        return AlertKind.ABSENT in self.alerts

    @property
    def in_room(self) -> bool:
        return self.state in IN_ROOM

    @property
    def can_check_in(self) -> bool:
        return self.state in ARRIVABLE

    @property
    def can_mark_absent(self) -> bool:
        return self.state == AttendanceState.EXPECTED


def pinyin_key(name: str) -> tuple:
    """Sort Chinese names as a class list is read out: by pinyin (艾, 白, 陈), then by the characters."""
    return ([syllable.lower() for syllable in lazy_pinyin(name or "")], name or "")


def current_state(record: AttendanceRecord | None, on_leave: bool) -> AttendanceState:
    """The state shown for a child: the record's, or expected; a live leave turns 'expected' into 'excused'."""
    state = record.state if record is not None else AttendanceState.EXPECTED
    return AttendanceState.EXCUSED if state == AttendanceState.EXPECTED and on_leave else state


def covers_session(session: ProgrammeSession, mode: EnrolmentMode) -> sa.ColumnElement[bool]:
    """Enrolments that give a seat in the session: the programme's (whole mode) or the session's (day mode)."""
    if mode == EnrolmentMode.DAY:
        return Enrolment.session_id == session.id
    return sa.and_(Enrolment.programme_id == session.programme_id, Enrolment.session_id.is_(None))


def _child_options():
    return (selectinload(Child.guardianships).joinedload(Guardianship.user),
            selectinload(Child.pickup_persons))


def expected_children(session: ProgrammeSession) -> list[RosterLine]:
    """The session's roster: children holding a seat (and any child already recorded), sorted by pinyin."""
    mode = db.session.scalar(sa.select(Programme.mode).where(Programme.id == session.programme_id))
    seated = sa.select(Enrolment.child_id).where(covers_session(session, mode), Enrolment.status.in_(SEAT_HOLDING))
    records = {r.child_id: r for r in db.session.scalars(
        sa.select(AttendanceRecord).where(AttendanceRecord.session_id == session.id))}
    # A child already checked in stays on the roster even if the enrolment ended meanwhile: it is in the room.
    wanted = sa.or_(Child.id.in_(seated), Child.id.in_(list(records))) if records else Child.id.in_(seated)
    children = list(db.session.scalars(sa.select(Child).where(wanted).options(*_child_options())).unique())
    on_leave = set(db.session.scalars(sa.select(Leave.child_id).where(Leave.session_id == session.id,
                                                                      Leave.cancelled_at.is_(None))))
    alerts: dict[int, set[AlertKind]] = {}
    for child_id, kind in db.session.execute(sa.select(AttendanceAlert.child_id, AttendanceAlert.kind)
                                             .where(AttendanceAlert.session_id == session.id)):
        alerts.setdefault(child_id, set()).add(kind)
    lines = [RosterLine(child=c, state=current_state(records.get(c.id), c.id in on_leave), record=records.get(c.id),
                        on_leave=c.id in on_leave, guardians=list(c.guardianships),
                        pickup_persons=list(c.pickup_persons), alerts=alerts.get(c.id, set()))
             for c in children]
    lines.sort(key=lambda line: (*pinyin_key(line.child.name), line.child.id))
    return lines


def roster_line(session: ProgrammeSession, child_id: int) -> RosterLine | None:
    """One child's line of the roster (None when the child is not on it)."""
    return next((line for line in expected_children(session) if line.child.id == child_id), None)


def is_on_roster(session: ProgrammeSession, child_id: int) -> bool:
    """True when the child holds a seat covering the session, or already has a record in it."""
    mode = db.session.scalar(sa.select(Programme.mode).where(Programme.id == session.programme_id))
    seat = sa.select(Enrolment.id).where(covers_session(session, mode), Enrolment.status.in_(SEAT_HOLDING),
                                         Enrolment.child_id == child_id)
    record = sa.select(AttendanceRecord.id).where(AttendanceRecord.session_id == session.id,
                                                  AttendanceRecord.child_id == child_id)
    return bool(db.session.scalar(sa.select(sa.or_(seat.exists(), record.exists()))))


def sessions_on(actor: User, day: date) -> list[ProgrammeSession]:
    """The sessions on a local date that the actor staffs: those they serve, and their communities' sessions."""
    served = ProgrammeSession.id.in_(sessions_served_by(actor))
    managed = managed_community_ids(actor)
    if managed is None:
        scope = sa.true()
    elif managed:
        scope = sa.or_(served, Programme.community_id.in_(managed))
    else:
        scope = served
    query = (sa.select(ProgrammeSession).join(Programme, Programme.id == ProgrammeSession.programme_id)
             .where(ProgrammeSession.on_date == day, ProgrammeSession.cancelled.is_(False), scope)
             .options(joinedload(ProgrammeSession.programme), joinedload(ProgrammeSession.venue))
             .order_by(ProgrammeSession.starts_at, ProgrammeSession.id))
    return list(db.session.scalars(query).unique())


def session_events(session_id: int) -> list[tuple[AttendanceEvent, Child]]:
    """The session's event log, oldest first, with the acting person and the child loaded."""
    query = (sa.select(AttendanceEvent, Child).join(Child, Child.id == AttendanceEvent.child_id)
             .where(AttendanceEvent.session_id == session_id)
             .options(joinedload(AttendanceEvent.actor))
             .order_by(AttendanceEvent.id))
    return [(event, child) for event, child in db.session.execute(query)]


def session_volunteers(session_id: int) -> list[User]:
    """The people holding a post in the session."""
    query = (sa.select(User).join(Shift, Shift.volunteer_id == User.id)
             .where(Shift.session_id == session_id, Shift.status == ShiftStatus.HELD).order_by(User.id))
    return list(db.session.scalars(query).unique())


def community_coordinators(community_id: int) -> list[User]:
    """The coordinators of a community."""
    query = (sa.select(User).join(RoleGrant, RoleGrant.user_id == User.id)
             .where(RoleGrant.role == Role.COORDINATOR, RoleGrant.community_id == community_id, User.active.is_(True))
             .order_by(User.id))
    return list(db.session.scalars(query).unique())
