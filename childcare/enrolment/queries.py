"""Read side of enrolment: seat summaries, waiting-list positions, a guardian's and a coordinator's lists."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from childcare.accounts.models import User
from childcare.accounts.permissions import ensure_manages_community
from childcare.children.models import Child, Guardianship
from childcare.db import db, run_prepared
from childcare.enrolment.models import SEAT_HOLDING, Enrolment, EnrolmentStatus, Leave
from childcare.errors import NotFound
from childcare.programmes.models import Programme, ProgrammeSession


def waitlist_order() -> tuple:
    """The one waiting-list order: priority group, draw place (none last), time queued, id."""
    return (Enrolment.priority, Enrolment.draw_rank.is_(None), Enrolment.draw_rank, Enrolment.queued_at,
            Enrolment.id)


@dataclass(frozen=True)
class SeatSummary:
    """Seats of a programme or session as they stand now."""

    capacity: int
    held: int
    seats_left: int
    waitlist_length: int


_HELD = sa.func.coalesce(sa.func.sum(sa.case((Enrolment.status.in_(SEAT_HOLDING), 1), else_=0)), 0)
_WAITING = sa.func.coalesce(sa.func.sum(sa.case((Enrolment.status == EnrolmentStatus.WAITLISTED, 1), else_=0)), 0)


def seat_summary(programme_ids: Iterable[int]) -> dict[int, SeatSummary]:
    """Whole-programme seats of each programme, in one grouped query."""
    ids = list(set(programme_ids))
    if not ids:
        return {}
    query = (sa.select(Programme.id, Programme.capacity, _HELD, _WAITING)
             .outerjoin(Enrolment, sa.and_(Enrolment.programme_id == Programme.id, Enrolment.session_id.is_(None)))
             .where(Programme.id.in_(ids))
             .group_by(Programme.id, Programme.capacity))
    return {pid: SeatSummary(cap, int(held), max(0, cap - int(held)), int(waiting))
            for pid, cap, held, waiting in db.session.execute(query)}


def session_seat_summary(session_ids: Iterable[int]) -> dict[int, SeatSummary]:
    """Seats of each session (day mode), in one grouped query."""
    ids = list(set(session_ids))
    if not ids:
        return {}
    capacity = sa.func.coalesce(ProgrammeSession.capacity, Programme.capacity)
    query = (sa.select(ProgrammeSession.id, capacity, _HELD, _WAITING)
             .join(Programme, Programme.id == ProgrammeSession.programme_id)
             .outerjoin(Enrolment, Enrolment.session_id == ProgrammeSession.id)
             .where(ProgrammeSession.id.in_(ids))
             .group_by(ProgrammeSession.id, ProgrammeSession.capacity, Programme.capacity))
    return {sid: SeatSummary(cap, int(held), max(0, cap - int(held)), int(waiting))
            for sid, cap, held, waiting in db.session.execute(query)}


@functools.cache
def _waitlist_statement(*, day: bool, only: bool) -> sa.Select:
    """The waiting list numbered in its one order (of a programme, or of one of its days), built once: a repeated
    sign-up, a cancellation and "my enrolments" each ask for places, and building the query anew cost a third of
    a repeat's Python."""
    place = sa.func.row_number().over(order_by=waitlist_order()).label("place")
    numbered = (sa.select(Enrolment.id, place)
                .where(Enrolment.programme_id == sa.bindparam("programme_id"),
                       Enrolment.status == EnrolmentStatus.WAITLISTED,
                       Enrolment.session_id == sa.bindparam("session_id") if day else Enrolment.session_id.is_(None))
                .subquery())
    query = sa.select(numbered.c.id, numbered.c.place).order_by(numbered.c.place)
    if only:
        query = query.where(numbered.c.id.in_(sa.bindparam("only_ids", expanding=True)))
    return query.execution_options(prepared=True)


def waitlist_positions(*, programme_id: int, session_id: int | None = None,
                       only_ids: Iterable[int] | None = None) -> dict[int, int]:
    """enrolment id → 1-based place on the waiting list, in that order; computed, so it never has gaps.

    With only_ids, the database numbers the whole list but answers just those rows (the sign-up rush asks
    for one place at a time on a list hundreds long).
    """
    params: dict = {"programme_id": programme_id}
    if session_id is not None:
        params["session_id"] = session_id
    if only_ids is not None:
        params["only_ids"] = list(only_ids)
        if not params["only_ids"]:
            return {}
    statement = _waitlist_statement(day=session_id is not None, only=only_ids is not None)
    return {enrolment_id: int(position) for enrolment_id, position in run_prepared(statement, params)}


def positions_of(enrolments: Iterable[Enrolment]) -> dict[int, int]:
    """Waiting-list places of the given enrolments, one query per distinct list they are on."""
    lists: dict[tuple[int, int | None], list[int]] = {}
    for e in enrolments:
        if e.status == EnrolmentStatus.WAITLISTED:
            lists.setdefault((e.programme_id, e.session_id), []).append(e.id)
    positions: dict[int, int] = {}
    for (programme_id, session_id), ids in sorted(lists.items(), key=lambda k: (k[0][0], k[0][1] or 0)):
        positions.update(waitlist_positions(programme_id=programme_id, session_id=session_id, only_ids=ids))
    return positions


def _children_of(actor: User):
    return sa.select(Guardianship.child_id).where(Guardianship.user_id == actor.id)


def enrolments_of_guardian(actor: User) -> list[Enrolment]:
    """Every enrolment of the actor's children, newest first, with child, programme and session loaded."""
    query = (sa.select(Enrolment).where(Enrolment.child_id.in_(_children_of(actor)))
             .options(joinedload(Enrolment.child), joinedload(Enrolment.programme), joinedload(Enrolment.session))
             .order_by(Enrolment.created_at.desc(), Enrolment.id.desc()))
    return list(db.session.scalars(query).unique())


class ScheduleEntry(NamedTuple):
    """One session a child attends, the enrolment that gives the seat, and a leave if one was asked for."""

    session: ProgrammeSession
    child: Child
    enrolment: Enrolment
    leave: Leave | None


def _seats_of_guardian(actor: User, *columns):
    """The actor's children's confirmed or pending seats, joined to every session each covers (a whole-programme
    seat covers all of its sessions, a day booking its own)."""
    covers = sa.or_(Enrolment.session_id == ProgrammeSession.id,
                    sa.and_(Enrolment.session_id.is_(None), Enrolment.programme_id == ProgrammeSession.programme_id))
    return (sa.select(*columns).select_from(ProgrammeSession)
            .join(Enrolment, covers)
            .where(Enrolment.child_id.in_(_children_of(actor)),
                   Enrolment.status.in_((EnrolmentStatus.CONFIRMED, EnrolmentStatus.PENDING))))


#: how far ahead "my schedule" looks, on the page and in the API (the calendar feed's year)
SCHEDULE_HORIZON_DAYS = 366


def schedule_start(asked: date | None, today: date) -> date:
    """The first day of a window of "my schedule": the day asked for, from today on and at most a year ahead."""
    return min(max(asked or today, today), today + timedelta(days=SCHEDULE_HORIZON_DAYS))


def schedule_of_guardian(actor: User, start: date, end: date) -> list[ScheduleEntry]:
    """Sessions on dates start..end (inclusive) where the actor's children hold a confirmed or pending seat, with the
    session's and the programme's venue loaded."""
    query = (_seats_of_guardian(actor, ProgrammeSession, Enrolment)
             .where(ProgrammeSession.on_date >= start, ProgrammeSession.on_date <= end)
             .options(joinedload(Enrolment.child), joinedload(Enrolment.programme).joinedload(Programme.venue),
                      joinedload(ProgrammeSession.venue))
             .order_by(ProgrammeSession.starts_at, Enrolment.child_id))
    rows = list(db.session.execute(query).unique())
    if not rows:
        return []
    session_ids = {s.id for s, _ in rows}
    child_ids = {e.child_id for _, e in rows}
    leaves = db.session.scalars(sa.select(Leave).where(Leave.session_id.in_(session_ids),
                                                       Leave.child_id.in_(child_ids),
                                                       Leave.cancelled_at.is_(None)))
    by_key = {(leave.child_id, leave.session_id): leave for leave in leaves}
    return [ScheduleEntry(s, e.child, e, by_key.get((e.child_id, s.id))) for s, e in rows]


def next_schedule_date(actor: User, after: date) -> date | None:
    """The first date after `after` on which one of the actor's children has a session, so that "my schedule" can
    lead straight to it across weeks without any (a holiday camp months ahead)."""
    return db.session.scalar(_seats_of_guardian(actor, sa.func.min(ProgrammeSession.on_date))
                             .where(ProgrammeSession.on_date > after))


def last_schedule_date(actor: User, since: date, before: date) -> date | None:
    """The last date from `since` and before `before` on which one of the actor's children has a session: where
    "my schedule" leads back to."""
    return db.session.scalar(_seats_of_guardian(actor, sa.func.max(ProgrammeSession.on_date))
                             .where(ProgrammeSession.on_date >= since, ProgrammeSession.on_date < before))


class ManagedEnrolment(NamedTuple):
    """An enrolment as a coordinator sees it, with its waiting-list place (None unless waitlisted)."""

    enrolment: Enrolment
    position: int | None


_STATUS_ORDER = {s: i for i, s in enumerate((EnrolmentStatus.CONFIRMED, EnrolmentStatus.PENDING,
                                             EnrolmentStatus.OFFERED, EnrolmentStatus.WAITLISTED,
                                             EnrolmentStatus.DECLINED, EnrolmentStatus.EXPIRED,
                                             EnrolmentStatus.CANCELLED, EnrolmentStatus.REMOVED))}


def enrolments_for_manager(actor: User, programme_id: int,
                           statuses: Iterable[EnrolmentStatus | str] | None = None) -> list[ManagedEnrolment]:
    """A programme's enrolments for its coordinator: seat holders, then the waiting list in order, then ended ones."""
    programme = db.session.get(Programme, programme_id)
    if programme is None:
        raise NotFound()
    ensure_manages_community(actor, programme.community_id, hide=True)
    query = (sa.select(Enrolment).where(Enrolment.programme_id == programme_id)
             .options(joinedload(Enrolment.child).selectinload(Child.guardianships)
                      .joinedload(Guardianship.user),
                      joinedload(Enrolment.session), selectinload(Enrolment.programme)))
    if statuses is not None:
        query = query.where(Enrolment.status.in_([EnrolmentStatus(s) for s in statuses]))
    enrolments = list(db.session.scalars(query.order_by(*waitlist_order())).unique())
    positions: dict[int, int] = {}
    counters: dict[int | None, int] = {}
    # Rows come in waiting-list order; a status filter keeps either all waitlisted rows or none, so counting
    # per list gives the true places.
    for e in enrolments:
        if e.status == EnrolmentStatus.WAITLISTED:
            counters[e.session_id] = counters.get(e.session_id, 0) + 1
            positions[e.id] = counters[e.session_id]
    enrolments.sort(key=lambda e: (e.session.starts_at.timestamp() if e.session else 0, _STATUS_ORDER[e.status],
                                   positions.get(e.id, 0)))
    return [ManagedEnrolment(e, positions.get(e.id)) for e in enrolments]
