"""Seat locking and counting: the ONLY module that locks capacity rows (STYLE rule 4)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg2
import sqlalchemy as sa

from childcare.db import (
    as_prepared,
    core_connection,
    db,
    draw_ids_sql,
    ids_by_table,
    is_lock_timeout,
    remember_prepared,
    reserve_ids,
    runs_prepared,
    take_sqlite_write_lock,
    with_pending_begin,
)
from childcare.enrolment.models import LIVE, SEAT_HOLDING, Enrolment, EnrolmentStatus
from childcare.errors import Busy
from childcare.programmes.models import Programme, ProgrammeSession


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
                     child_ids: Iterable[int], new_ids: Sequence[tuple[sa.Table, int]] = (),
                     ) -> tuple[SeatLock, dict[int | None, SlotCount], list[list[int]]]:
    """Lock the rows that own the seats a sign-up asks for, then recount every slot (None: the whole programme).

    Whole mode locks the programme row; day mode locks each session (ascending ids) and reads the programme's
    default capacity beside it. The recount is a statement of its own, so it sees everything committed before the
    lock was granted; a newcomer joins the waiting list behind every place of its priority or better, so its place
    is `ahead` plus one. It also reads the capacities, which cannot change while the lock is held.

    PostgreSQL gets both statements in one round trip (one message of two statements): the lock is held for as
    little as possible. The recount also draws the ids the write will need (`new_ids`: so many per table, as
    db.reserve_ids), so that no round trip of its own is spent on them; SQLite picks them under its write lock.
    """
    real = sorted({sid for sid in session_ids if sid is not None})
    params = {"programme_id": programme_id, "session_ids": real, "priority": priority,
              "child_ids": list(child_ids) or [0]}
    try:
        if _dialect() == "postgresql":
            names = tuple(table.name for table, count in new_ids if count > 0)
            params.update({f"count_{table.name}": count for table, count in new_ids if count > 0})
            session_connection = core_connection()
            connection = session_connection.connection
            cursor = connection.dbapi_connection.cursor()  # the session's transaction
            lock, recount = _pg_lock_and_recount(day=bool(real), id_tables=names)
            if runs_prepared(session_connection):
                (lock_sent, lock_made), (recount_sent, recount_made) = (as_prepared(connection, lock),
                                                                        as_prepared(connection, recount))
            else:  # behind a pooler in transaction mode: nothing may outlive the transaction
                (lock_sent, lock_made), (recount_sent, recount_made) = (lock, None), (recount, None)
            cursor.execute(with_pending_begin(connection, f"{lock_sent}; {recount_sent}"), params)
            rows = cursor.fetchall()  # the last statement's: the lock only locks
            remember_prepared(connection, lock, lock_made)
            remember_prepared(connection, recount, recount_made)
            ids = ids_by_table(new_ids, rows[0][6:])
        else:
            take_sqlite_write_lock()  # the lock itself; the statements below only read
            rows = core_connection().execute(_RECOUNT_DAY if real else _RECOUNT_WHOLE, params).all()
            ids = reserve_ids(*new_ids)
    except (sa.exc.OperationalError, psycopg2.OperationalError) as error:
        if is_lock_timeout(error):
            raise Busy() from error
        raise
    # Each row: slot, capacity, drawn_at, held, ahead, twins (then, on PostgreSQL, the ids drawn).
    seat_lock = SeatLock(capacities={row[0]: row[1] for row in rows}, drawn=rows[0][2] is not None)
    counts = {row[0]: SlotCount(int(row[3] or 0), int(row[4] or 0), int(row[5] or 0)) for row in rows}
    return seat_lock, {sid: counts.get(sid, SlotCount()) for sid in session_ids}, ids


# The recount is built once: a prebuilt statement skips construction and keeps its cache key.
_programmes = Programme.__table__
_sessions = ProgrammeSession.__table__
_enrolments = Enrolment.__table__


def _recount_statement(*, day: bool) -> sa.Select:
    """Per slot: its capacity, whether the draw has run, seats held, waiting places at or before the priority, and
    live enrolments of the children asking."""
    status = _enrolments.c.status
    held = sa.func.count(_enrolments.c.id).filter(status.in_(SEAT_HOLDING))
    ahead = sa.func.count(_enrolments.c.id).filter(status == EnrolmentStatus.WAITLISTED,
                                                   _enrolments.c.priority <= sa.bindparam("priority"))
    twins = sa.func.count(_enrolments.c.id).filter(
        _enrolments.c.child_id.in_(sa.bindparam("child_ids", expanding=True)))
    live = sa.and_(_enrolments.c.programme_id == _programmes.c.id, status.in_(LIVE))
    if day:
        return (sa.select(_sessions.c.id, sa.func.coalesce(_sessions.c.capacity, _programmes.c.capacity),
                          _programmes.c.drawn_at, held, ahead, twins)
                .join(_programmes, _programmes.c.id == _sessions.c.programme_id)
                .outerjoin(_enrolments, sa.and_(live, _enrolments.c.session_id == _sessions.c.id))
                .where(_sessions.c.id.in_(sa.bindparam("session_ids", expanding=True)))
                .group_by(_sessions.c.id, _programmes.c.capacity, _programmes.c.drawn_at)
                .order_by(_sessions.c.id))
    return (sa.select(sa.null(), _programmes.c.capacity, _programmes.c.drawn_at, held, ahead, twins)
            .outerjoin(_enrolments, sa.and_(live, _enrolments.c.session_id.is_(None)))
            .where(_programmes.c.id == sa.bindparam("programme_id"))
            .group_by(_programmes.c.id))


_RECOUNT_WHOLE = _recount_statement(day=False)
_RECOUNT_DAY = _recount_statement(day=True)


def _sql_list(values: Iterable[EnrolmentStatus]) -> str:
    return ", ".join(f"'{value.value}'" for value in sorted(values))


# PostgreSQL: the lock, then the same recount in its own words (psycopg2 placeholders, arrays for the id lists),
# sent as one message of two statements. Each statement takes its own snapshot (READ COMMITTED), so the recount
# sees every sign-up committed before the lock was granted. Only constants are formatted in (status values, the
# slot); the values travel as parameters.
_PG_COUNTS = (
    f"count(e.id) FILTER (WHERE e.status IN ({_sql_list(SEAT_HOLDING)})), "
    f"count(e.id) FILTER (WHERE e.status = '{EnrolmentStatus.WAITLISTED.value}' AND e.priority <= %(priority)s), "
    "count(e.id) FILTER (WHERE e.child_id = ANY(%(child_ids)s)) ")
_PG_LIVE = f"e.programme_id = p.id AND e.status IN ({_sql_list(LIVE)})"
_PG_LOCK = {
    False: "SELECT 1 FROM programmes WHERE id = %(programme_id)s FOR UPDATE",
    True: "SELECT 1 FROM programme_sessions WHERE id = ANY(%(session_ids)s) ORDER BY id FOR UPDATE",
}
_PG_RECOUNT = {
    False: (f"SELECT NULL, p.capacity, p.drawn_at, {_PG_COUNTS}{{ids}}"  # noqa: S608
            f"FROM programmes AS p LEFT JOIN enrolments AS e ON {_PG_LIVE} AND e.session_id IS NULL "
            "WHERE p.id = %(programme_id)s GROUP BY p.id"),
    True: (f"SELECT s.id, coalesce(s.capacity, p.capacity), p.drawn_at, {_PG_COUNTS}{{ids}}"  # noqa: S608
           "FROM programme_sessions AS s JOIN programmes AS p ON p.id = s.programme_id "
           f"LEFT JOIN enrolments AS e ON {_PG_LIVE} AND e.session_id = s.id "
           "WHERE s.id = ANY(%(session_ids)s) GROUP BY s.id, p.capacity, p.drawn_at ORDER BY s.id"),
}


@functools.lru_cache(maxsize=16)
def _pg_lock_and_recount(*, day: bool, id_tables: tuple[str, ...]) -> tuple[str, str]:
    """The lock and the recount, to go out as one message of two (prepared) statements. Each table's ids come from
    its sequence (db.draw_ids_sql), which PostgreSQL runs once however many slots there are."""
    ids = "".join(f", {draw_ids_sql(name)} " for name in id_tables)
    return _PG_LOCK[day], _PG_RECOUNT[day].format(ids=ids)


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
