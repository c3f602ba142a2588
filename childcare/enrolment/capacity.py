"""Seat locking and counting: the ONLY module that locks capacity rows (STYLE rule 4)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import psycopg
import sqlalchemy as sa

from childcare.db import core_connection, db, is_lock_timeout, take_sqlite_write_lock
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
        take_sqlite_write_lock()
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


@dataclass(frozen=True)
class SeatLock:
    """What a sign-up learns when it takes the lock: each slot's capacity (None: the whole programme) and whether
    the draw has run, both read inside the lock."""

    capacities: dict[int | None, int]
    drawn: bool


@dataclass(frozen=True)
class SlotCount:
    """Inside the lock: seats held, waiting places at or before a priority, and live enrolments of the children
    asking (normally 0; more when a twin request got the lock first)."""

    held: int = 0
    ahead: int = 0
    twins: int = 0


def lock_and_recount(programme_id: int, session_ids: Sequence[int | None], *, priority: int,
                     child_ids: Iterable[int]) -> tuple[SeatLock, dict[int | None, SlotCount]]:
    """Lock the rows that own the seats a sign-up asks for, then recount every slot (None: the whole programme).

    Whole mode locks the programme row; day mode locks each session (ascending ids) and reads the programme's
    default capacity beside it. The capacities are read by the locking statement itself. The recount is a
    statement of its own, so it sees everything committed before the lock was granted; a newcomer joins the
    waiting list behind every place of its priority or better, so its place is `ahead` plus one.

    PostgreSQL gets both statements in one round trip (pipeline mode): the lock is held for as little as possible.
    """
    real = sorted({sid for sid in session_ids if sid is not None})
    params = {"programme_id": programme_id, "session_ids": real, "priority": priority,
              "child_ids": list(child_ids) or [0]}
    try:
        if _dialect() == "postgresql":
            locked, counted = _lock_and_recount_pipelined(params, day=bool(real))
        else:
            take_sqlite_write_lock()  # the lock itself; the statements below only read
            connection = core_connection()
            if real:
                locked = connection.execute(_LOCK_SESSIONS, params).all()
                counted = connection.execute(_RECOUNT_DAY, params).all()
            else:
                locked = connection.execute(_LOCK_PROGRAMME, params).all()
                counted = connection.execute(_RECOUNT_WHOLE, params).all()
    except (sa.exc.OperationalError, psycopg.errors.OperationalError) as error:
        if is_lock_timeout(error):
            raise Busy() from error
        raise
    if real:
        seat_lock = SeatLock(capacities={row[0]: row[1] for row in locked},
                             drawn=bool(locked) and locked[0][2] is not None)
    else:
        seat_lock = SeatLock(capacities={None: locked[0][0]}, drawn=locked[0][1] is not None)
    counts = {row[0]: SlotCount(int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)) for row in counted}
    return seat_lock, {sid: counts.get(sid, SlotCount()) for sid in session_ids}


# The sign-up's statements are built once: a prebuilt statement skips construction and keeps its cache key.
_programmes = Programme.__table__
_sessions = ProgrammeSession.__table__
_LOCK_PROGRAMME = sa.select(_programmes.c.capacity, _programmes.c.drawn_at).where(
    _programmes.c.id == sa.bindparam("programme_id"))
_LOCK_SESSIONS = (sa.select(_sessions.c.id, sa.func.coalesce(_sessions.c.capacity, _programmes.c.capacity),
                            _programmes.c.drawn_at)
                  .join(_programmes, _programmes.c.id == _sessions.c.programme_id)
                  .where(_sessions.c.id.in_(sa.bindparam("session_ids", expanding=True)))
                  .order_by(_sessions.c.id))


def _recount_statement(*, day: bool) -> sa.Select:
    status = Enrolment.status
    held = sa.func.sum(sa.case((status.in_(SEAT_HOLDING), 1), else_=0))
    ahead = sa.func.sum(sa.case((sa.and_(status == EnrolmentStatus.WAITLISTED,
                                         Enrolment.priority <= sa.bindparam("priority")), 1), else_=0))
    twins = sa.func.sum(sa.case((Enrolment.child_id.in_(sa.bindparam("child_ids", expanding=True)), 1), else_=0))
    slot = (Enrolment.session_id.in_(sa.bindparam("session_ids", expanding=True)) if day
            else Enrolment.session_id.is_(None))
    return (sa.select(Enrolment.session_id, held, ahead, twins)
            .where(Enrolment.programme_id == sa.bindparam("programme_id"), status.in_(LIVE), slot)
            .group_by(Enrolment.session_id))


_RECOUNT_WHOLE = _recount_statement(day=False)
_RECOUNT_DAY = _recount_statement(day=True)


def _sql_list(values: Iterable[EnrolmentStatus]) -> str:
    return ", ".join(f"'{value.value}'" for value in sorted(values))


# The same two statements in PostgreSQL's own words (psycopg placeholders, arrays for the id lists), for the
# pipeline, which runs below SQLAlchemy.
_PG_LOCK_PROGRAMME = "SELECT capacity, drawn_at FROM programmes WHERE id = %(programme_id)s FOR UPDATE"
_PG_LOCK_SESSIONS = ("SELECT s.id, coalesce(s.capacity, p.capacity), p.drawn_at FROM programme_sessions AS s "
                     "JOIN programmes AS p ON p.id = s.programme_id WHERE s.id = ANY(%(session_ids)s) "
                     "ORDER BY s.id FOR UPDATE OF s")
# Only constants are formatted in (status values, the slot condition); the values travel as parameters.
_PG_RECOUNT = (
    "SELECT session_id, "  # noqa: S608
    f"count(*) FILTER (WHERE status IN ({_sql_list(SEAT_HOLDING)})), "
    f"count(*) FILTER (WHERE status = '{EnrolmentStatus.WAITLISTED.value}' AND priority <= %(priority)s), "
    "count(*) FILTER (WHERE child_id = ANY(%(child_ids)s)) "
    f"FROM enrolments WHERE programme_id = %(programme_id)s AND status IN ({_sql_list(LIVE)}) AND {{slot}} "
    "GROUP BY session_id")
_PG_RECOUNT_WHOLE = _PG_RECOUNT.format(slot="session_id IS NULL")
_PG_RECOUNT_DAY = _PG_RECOUNT.format(slot="session_id = ANY(%(session_ids)s)")


def _lock_and_recount_pipelined(params: dict, *, day: bool) -> tuple[list, list]:
    connection = core_connection().connection.dbapi_connection  # the session's transaction, below SQLAlchemy
    with connection.pipeline():
        lock = connection.cursor()
        lock.execute(_PG_LOCK_SESSIONS if day else _PG_LOCK_PROGRAMME, params)
        count = connection.cursor()
        count.execute(_PG_RECOUNT_DAY if day else _PG_RECOUNT_WHOLE, params)
    return lock.fetchall(), count.fetchall()


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
