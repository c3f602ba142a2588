"""Seat locking and counting: the ONLY module that locks capacity rows (STYLE rule 4)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

import sqlalchemy as sa

from childcare.db import db, is_lock_timeout, write_intent
from childcare.enrolment.models import LIVE, SEAT_HOLDING, Enrolment, EnrolmentStatus
from childcare.errors import Busy
from childcare.programmes.models import Programme, ProgrammeSession

P = ParamSpec("P")
R = TypeVar("R")


def busy_on_lock_timeout(service: Callable[P, R]) -> Callable[P, R]:
    """Decorator for seat-changing services: a lock wait that timed out anywhere inside becomes Busy (503).

    On SQLite the wait happens at BEGIN IMMEDIATE, i.e. at the service's first statement, not in lock_capacity.
    """

    @functools.wraps(service)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return service(*args, **kwargs)
        except sa.exc.OperationalError as error:
            if is_lock_timeout(error):
                raise Busy() from error
            raise

    return wrapped


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def lock_capacity(*, programme_id: int | None = None, session_ids: Iterable[int] = ()) -> list:
    """Lock the rows that own the seats (the programme, or each session in day mode) until the transaction ends.

    Answers the locked rows, reloaded inside the lock (a capacity read before it may be stale).
    A lock that cannot be had in time becomes Busy (503 "busy"), never a 500.
    """
    ids = sorted(set(session_ids))
    if not ids and programme_id is None:
        raise ValueError("lock_capacity needs a programme_id or session_ids")
    try:
        # PostgreSQL: the connection carries lock_timeout (config.py), so FOR UPDATE below gives up in time.
        if _dialect() != "postgresql" and not write_intent.get():
            # SQLite: writers begin with BEGIN IMMEDIATE (db.py), which is the lock. A read-only transaction
            # must take the write lock now, before counting, or its count could be stale when it writes.
            db.session.execute(sa.text("UPDATE programmes SET id = id WHERE 0"))
        if ids:
            # Ascending ids: two writers locking overlapping sessions can never wait on each other in a cycle.
            query = (sa.select(ProgrammeSession).where(ProgrammeSession.id.in_(ids))
                     .order_by(ProgrammeSession.id))
        else:
            query = sa.select(Programme).where(Programme.id == programme_id)
        query = query.execution_options(populate_existing=True)
        if _dialect() == "postgresql":
            query = query.with_for_update()
        return list(db.session.scalars(query))
    except sa.exc.OperationalError as error:
        if is_lock_timeout(error):
            raise Busy() from error
        raise


def _holding_filter(programme_id: int, session_id: int | None) -> list:
    where = [Enrolment.programme_id == programme_id, Enrolment.status.in_(SEAT_HOLDING)]
    where.append(Enrolment.session_id.is_(None) if session_id is None else Enrolment.session_id == session_id)
    return where


def seats_held(programme_id: int, session_id: int | None = None) -> int:
    """Seats held (pending, confirmed, offered) in the programme or one of its sessions; call inside the lock."""
    query = sa.select(sa.func.count(Enrolment.id)).where(*_holding_filter(programme_id, session_id))
    return int(db.session.scalar(query) or 0)


def recount(programme_id: int, session_id: int | None, *, priority: int,
            child_ids: Iterable[int]) -> tuple[int, int, int]:
    """Inside the lock, in one round trip: (seats held, waiting places at or before `priority`, live
    enrolments these children already have here).

    A newcomer joins the waiting list behind every place of its priority or better, so its place is the
    second number plus one; the third is normally 0 (a twin request that got the lock first makes it > 0).
    """
    where = [Enrolment.programme_id == programme_id,
             Enrolment.session_id.is_(None) if session_id is None else Enrolment.session_id == session_id]
    count = sa.func.count(Enrolment.id)
    held = sa.select(count).where(*where, Enrolment.status.in_(SEAT_HOLDING)).scalar_subquery()
    ahead = sa.select(count).where(*where, Enrolment.status == EnrolmentStatus.WAITLISTED,
                                   Enrolment.priority <= priority).scalar_subquery()
    twins = sa.select(count).where(*where, Enrolment.status.in_(LIVE),
                                   Enrolment.child_id.in_(list(child_ids))).scalar_subquery()
    row = db.session.execute(sa.select(held, ahead, twins)).one()
    return int(row[0]), int(row[1]), int(row[2])


def capacity_of(programme: Programme, session: ProgrammeSession | None = None) -> int:
    """The seats of a session (its own, or the programme's default), or of the whole programme."""
    if session is not None and session.capacity is not None:
        return session.capacity
    return programme.capacity


def seats_left(programme: Programme, session: ProgrammeSession | None = None) -> int:
    """Capacity minus seats held, recounted now (inside the lock); never negative."""
    held = seats_held(programme.id, session.id if session is not None else None)
    return max(0, capacity_of(programme, session) - held)


# ---- staffing (volunteers) ---------------------------------------------------------------------------------------
# Shifts belong to the volunteers feature, which sits beside enrolment; they are counted through the table alone so
# that enrolment need not import it. The rule mirrors volunteers.queries.posts_needed.
_shifts = sa.table("shifts", sa.column("id"), sa.column("session_id"), sa.column("status"))


def would_be_understaffed(programme: Programme, session_ids: Iterable[int], adding: int, now) -> bool:
    """True when an upcoming session (the ones booked, in day mode) would have fewer volunteers than needed.

    Needed = max(min_volunteers, ceil((children holding seats + adding) / children_per_adult)).
    """
    held = sa.func.count(_shifts.c.id)
    query = (sa.select(ProgrammeSession.id, held)
             .outerjoin(_shifts, sa.and_(_shifts.c.session_id == ProgrammeSession.id, _shifts.c.status == "held"))
             .where(ProgrammeSession.programme_id == programme.id, ProgrammeSession.cancelled.is_(False),
                    ProgrammeSession.starts_at > now)
             .group_by(ProgrammeSession.id))
    ids = list(session_ids)
    if ids:
        query = query.where(ProgrammeSession.id.in_(ids))
    whole = None if ids else seats_held(programme.id)
    for session_id, volunteers in db.session.execute(query):
        children = (whole if whole is not None else seats_held(programme.id, session_id)) + adding
        needed = max(programme.min_volunteers, -(-children // max(1, programme.children_per_adult)))
        if volunteers < needed:
            return True
    return False
