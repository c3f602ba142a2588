"""Declarative base, UTC timestamps, units of work and the per-database write-transaction helpers."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import psycopg2.extensions
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.util import identity_key

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC (the only clock the models use)."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Stores aware datetimes as UTC; SQLite forgets the zone, so it is put back on the way out."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Every model: one naming convention for constraints, aware datetimes everywhere."""

    registry = sa.orm.registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


db = SQLAlchemy(model_class=Base)


def str_enum(cls: type) -> sa.Enum:
    """A Python enum stored by its values as a short string (portable: no native PostgreSQL ENUM type)."""
    return sa.Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])

# SQLite has one writer at a time. A transaction that reads first and writes later can fail at
# once (SQLITE_BUSY) when another writer got in between, so writes begin with BEGIN IMMEDIATE:
# the write lock is taken at the start and concurrent writers queue on the busy timeout.
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=True)

SQLITE_BUSY_TIMEOUT_MS = 15000


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Take transaction control away from pysqlite so that our BEGIN is the one that runs.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


# ---- server-side prepared statements (PostgreSQL) ----------------------------------------------------------------
# A hot statement is parsed and planned once per connection instead of at every execution: for the short statements
# of a sign-up, planning is most of what PostgreSQL spends on them. Opt in with `.execution_options(prepared=True)`
# (every parameter's type must follow from its place, as in `column = %(value)s`). psycopg2 has no prepared
# statements of its own, so they are made with SQL's PREPARE and run with EXECUTE, in the same round trip. They live
# as long as the connection (a rollback keeps them), so they do not suit a pooler in transaction mode: the engine
# option `prepared_statements=False` (PREPARED_STATEMENTS=0) turns them off.

MAX_PREPARED_PER_CONNECTION = 100
_PSYCOPG2_READY = psycopg2.extensions.STATUS_READY
_PSYCOPG2_IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE
_PYFORMAT_PARAMETER = re.compile(r"%\((\w+)\)s")


def as_prepared(connection: Any, statement: str) -> tuple[str, str | None]:
    """What to send for `statement` (psycopg2's pyformat, with parameters) on this pooled connection: the EXECUTE
    of its prepared form, preceded the first time by the PREPARE. The second value is, that first time, what
    `remember_prepared` records once the text has run, so that a first try that failed is never taken as prepared.
    A connection that holds too many runs further statements as they are."""
    prepared: dict[str, str] = connection.info.setdefault("prepared_statements", {})
    execute = prepared.get(statement)
    if execute is not None:
        return execute, None
    if len(prepared) >= MAX_PREPARED_PER_CONNECTION:
        return statement, None
    names = list(dict.fromkeys(_PYFORMAT_PARAMETER.findall(statement)))
    numbers = {name: f"${number}" for number, name in enumerate(names, 1)}
    body = _PYFORMAT_PARAMETER.sub(lambda match: numbers[match.group(1)], statement)  # `%%` stays: it is formatted
    number = connection.info["prepared_made"] = connection.info.get("prepared_made", 0) + 1
    name = f"childcare_{number}"  # never reused: a PREPARE that ran in a failed try may exist
    execute = f"EXECUTE {name}({', '.join(f'%({n})s' for n in names)})" if names else f"EXECUTE {name}"
    return f"PREPARE {name} AS {body}; {execute}", execute


def remember_prepared(connection: Any, statement: str, execute: str | None) -> None:
    """After the text from `as_prepared` ran: from now on this connection runs `statement` by its EXECUTE."""
    if execute is not None:
        connection.info["prepared_statements"][statement] = execute


@event.listens_for(Engine, "before_cursor_execute", retval=True)
def _execute_prepared(conn: sa.Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                      executemany: bool) -> tuple[str, Any]:
    if (executemany or context is None or not parameters or not context.execution_options.get("prepared")
            or not context.execution_options.get("prepared_statements", True)
            or conn.dialect.driver != "psycopg2" or not isinstance(parameters, dict)):
        return statement, parameters
    sent, execute = as_prepared(conn.connection, statement)
    if execute is not None:
        context.prepared_first_time = (statement, execute)
    return sent, parameters


@event.listens_for(Engine, "after_cursor_execute")
def _remember_prepared(conn: sa.Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                       executemany: bool) -> None:
    first_time = getattr(context, "prepared_first_time", None)
    if first_time is not None:
        remember_prepared(conn.connection, *first_time)


class _HotPlan(NamedTuple):
    sql: str  # psycopg2's pyformat, every expanding parameter spelled out
    defaults: dict[str, Any]  # the statement's own values (literal IN lists...), already processed
    expansion: dict[str, list[str]]  # a caller's expanding parameter -> the names it is spelled out as
    processors: dict[str, Any]  # a caller's parameter (spelled out) -> its type's bind processor
    results: tuple[Any, ...]  # per column: its type's result processor, or None


_hot_statements: dict[int, tuple[Any, Any, tuple[str, ...]]] = {}
_hot_plans: dict[tuple[int, tuple[int, ...]], _HotPlan] = {}
MAX_HOT_PLANS = 512  # statements are prebuilt, but insert_together builds one per shape: never let them pile up


def run_prepared(statement: sa.Executable, params: dict[str, Any], connection: sa.Connection | None = None
                 ) -> Sequence[Sequence[Any]]:
    """The rows of a prebuilt statement on a hot path, as tuples in its column order, with the values SQLAlchemy
    would give (aware datetimes, enums, JSON); none for a statement without rows.

    On PostgreSQL it runs prepared (`as_prepared`) straight on the session's DBAPI cursor, from a plan made once
    per statement and shape of its IN lists: an execution through SQLAlchemy's engine costs about as much Python
    again as the round trip itself (execution context, compiled cache, parameter and row processing), and the token
    lookup of every API call, the programme and children of a sign-up and its write are each one such statement.
    Errors go through the connection's own handling (wrapping, invalidation of a dropped connection), and the
    engine's cursor events still see the statement. Elsewhere (SQLite, prepared statements off) it is an ordinary
    execution. It runs on the session's connection unless given another."""
    if connection is None:
        connection = core_connection()
    if not runs_prepared(connection):
        result = connection.execute(statement, params)
        return result.all() if result.returns_rows else []
    plan, bound = _bound(statement, params, connection)
    rows = _execute_prepared_text(connection, plan.sql, bound)
    processors = plan.results
    if any(processors):
        # A list, not a generator, per row: resuming a generator for each value was about 90 of 2,250 calls a sign-up.
        return [tuple([value if process is None or value is None else process(value)
                       for process, value in zip(processors, row, strict=True)]) for row in rows]
    return rows


def _execute_prepared_text(connection: sa.Connection, sql: str, bound: dict[str, Any], *, then: str = "",
                           first: str = "") -> list:
    """Run `sql` prepared on the connection's DBAPI cursor (`first`, `then`: more statements before and after it in
    the same message) and answer its raw rows. Errors go through the connection's own handling (wrapping,
    invalidation of a dropped connection), and the engine's cursor events see the statement."""
    pooled = connection.connection
    sent, made = as_prepared(pooled, sql)
    text = "; ".join(part for part in (first, sent, then) if part)
    rows = _execute_on_cursor(connection, with_pending_begin(pooled, text), bound)
    remember_prepared(pooled, sql, made)
    return rows


def write_unflushed(statement: sa.Executable, params: dict[str, Any], connection: sa.Connection) -> None:
    """A prebuilt write on a connection in autocommit that commits without waiting for the log's flush (PostgreSQL):
    for a write whose loss in a crash harms nothing, such as a token's last-use stamp. Flushing a commit costs
    PostgreSQL more than such a write (docs/performance.md). Elsewhere it runs as run_prepared."""
    pooled = connection.connection
    if not runs_prepared(connection) or not pooled.dbapi_connection.autocommit or pooled.info.get(_OURS):
        run_prepared(statement, params, connection)  # in a transaction, SET LOCAL would hold for all of it
        return
    plan, bound = _bound(statement, params, connection)
    # One message, one implicit transaction: SET LOCAL holds for it alone.
    _execute_prepared_text(connection, plan.sql, bound, first="SET LOCAL synchronous_commit TO off")


def _execute_on_cursor(connection: sa.Connection, sent: str, bound: dict[str, Any]) -> list:
    """Send `sent` on a cursor of the connection's DBAPI connection and answer its raw rows, as SQLAlchemy's own
    execution would: the engine's cursor events see it, and errors are wrapped (a dropped connection invalidated)."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        for listener in connection.dispatch.before_cursor_execute:
            listener(connection, cursor, sent, bound, None, False)
        cursor.execute(sent, bound)
        rows = cursor.fetchall() if cursor.description is not None else []
        for listener in connection.dispatch.after_cursor_execute:
            listener(connection, cursor, sent, bound, None, False)
    except Exception as error:  # noqa: BLE001 - handled (wrapped, re-raised) as SQLAlchemy handles its own
        connection._handle_dbapi_exception(error, sent, bound, cursor, None)
    finally:
        cursor.close()
    return rows


def runs_prepared(connection: sa.Connection) -> bool:
    return connection.dialect.driver == "psycopg2" and connection.get_execution_options().get(
        "prepared_statements", True)


def _bound(statement: sa.Executable, params: dict[str, Any], connection: sa.Connection
           ) -> tuple[_HotPlan, dict[str, Any]]:
    """The statement's plan and the values for its placeholders, processed as SQLAlchemy would."""
    plan = _hot_plan(statement, params, connection.dialect)
    bound = dict(plan.defaults)
    for name, value in params.items():
        spelled = plan.expansion.get(name)
        if spelled is None:
            bound[name] = value
        else:
            bound.update(zip(spelled, value, strict=True))
    for name, process in plan.processors.items():
        bound[name] = process(bound[name])
    return plan, bound


# ---- a transaction's BEGIN, sent with its first statement (PostgreSQL) -------------------------------------------
# psycopg2 sends BEGIN on its own before a transaction's first statement, and the COMMIT of a transaction whose last
# write already went out with its COMMIT (below) on its own too: two round trips of a sign-up's six that carry no
# work, each a wake-up of the database and of the worker. So while SQLAlchemy's transaction lasts, the driver is put
# in autocommit mode (its own flag: no round trip) and the transaction is ours: BEGIN goes out in one message with
# the first statement, COMMIT or ROLLBACK only when the database is in a transaction (libpq's own status says so).
# Nothing ever runs outside it: every path to the driver (SQLAlchemy's execution, run_prepared, the seat lock) puts
# the waiting BEGIN first. A connection in autocommit by someone else's choice is left as it is.

_BEGIN_WAITS = "childcare.begin_waits"
_OURS = "childcare.transaction_ours"


def with_pending_begin(pooled: Any, sql: str) -> str:
    """`sql` as it must go out on this pooled connection: after the transaction's BEGIN, if that has not gone out."""
    return f"BEGIN; {sql}" if pooled.info.pop(_BEGIN_WAITS, False) else sql


@event.listens_for(Engine, "begin")
def _begin_with_first_statement(conn: sa.Connection) -> None:
    if conn.dialect.driver != "psycopg2":
        return
    pooled = conn.connection
    raw = pooled.dbapi_connection
    if raw.autocommit or raw.status != _PSYCOPG2_READY:
        return  # autocommit chosen elsewhere, or a transaction the driver already began: the driver's way
    raw.autocommit = True
    pooled.info[_OURS] = True
    pooled.info[_BEGIN_WAITS] = True


@event.listens_for(Engine, "handle_error")
def _begin_again_if_it_never_left(context: Any) -> None:
    """A first statement that failed before it left (the driver could not send its values) took the BEGIN with it:
    the next statement of the transaction carries it again, so that nothing runs outside the transaction."""
    statement, conn = context.statement, context.connection
    if conn is None or not statement or not statement.startswith("BEGIN; "):
        return
    with contextlib.suppress(sa.exc.SQLAlchemyError):  # invalidated: nothing to begin again
        pooled = conn.connection
        if pooled.info.get(_OURS) and pooled.dbapi_connection.info.transaction_status == _PSYCOPG2_IDLE:
            pooled.info[_BEGIN_WAITS] = True


def _ours_to_end(info: dict, raw: Any) -> bool:
    """Forget the transaction of ours on this connection (if any); True when the database is still in it."""
    if not info.pop(_OURS, False):
        return False
    began = not info.pop(_BEGIN_WAITS, False)
    return began and raw.info.transaction_status != _PSYCOPG2_IDLE


def _end_our_transaction(conn: sa.Connection, word: str) -> None:
    """COMMIT or ROLLBACK where the database is in a transaction of ours, then the driver is as it was."""
    pooled = conn.connection
    raw = pooled.dbapi_connection
    ours = pooled.info.get(_OURS, False)
    try:
        if _ours_to_end(pooled.info, raw):
            _execute_on_cursor(conn, word, {})
    finally:
        if ours and not raw.closed:
            raw.autocommit = False


# ---- a transaction's last write, sent with its COMMIT (PostgreSQL) ----------------------------------------------
# A sign-up holds its programme's seat lock from the recount to the COMMIT. Sent on its own, its write comes back to
# a worker that must be scheduled again (on a busy machine, behind every other process) before the COMMIT can leave,
# and the lock waits all that time. Sent with the COMMIT, the lock ends as the write lands, and in a transaction of
# ours (above) the boundary has nothing left to send. (In a transaction psycopg2 began itself, the message ends with
# a BEGIN, so that the connection is in one again as the driver believes, and the driver's COMMIT ends it empty.)

_AT_COMMIT = "childcare.write_at_commit"


def write_at_commit(statement: sa.Executable, params: dict[str, Any]) -> None:
    """Run a prebuilt write (as run_prepared, no rows) as late as possible: with the transaction's COMMIT on
    PostgreSQL, or before any other statement that comes first on the connection (which then sees it); a rollback
    drops it. Elsewhere (SQLite, prepared statements off) it runs at once."""
    connection = core_connection()
    if not runs_prepared(connection):
        run_prepared(statement, params, connection)
        return
    _send_write_at_commit(connection)  # one waits at a time: an earlier one goes first
    plan, bound = _bound(statement, params, connection)
    connection.connection.info[_AT_COMMIT] = (plan.sql, bound)


def _send_write_at_commit(connection: sa.Connection, *, commit: bool = False) -> None:
    pooled = connection.connection
    waiting = pooled.info.pop(_AT_COMMIT, None)
    if waiting is not None:
        sql, bound = waiting
        then = ""  # in the driver's autocommit, not ours, the write commits by itself
        if commit and pooled.info.get(_OURS):
            then = "COMMIT"
        elif commit and not pooled.dbapi_connection.autocommit:
            then = "COMMIT; BEGIN"  # the driver's own transaction: it believes it is in one, and ends it itself
        _execute_prepared_text(connection, sql, bound, then=then)


@event.listens_for(Engine, "before_cursor_execute")
def _write_before_other_statements(conn: sa.Connection, cursor: Any, statement: str, parameters: Any,
                                   context: Any, executemany: bool) -> None:
    if _AT_COMMIT in conn.connection.info:
        _send_write_at_commit(conn)


@event.listens_for(Engine, "before_cursor_execute", retval=True)
def _send_begin_first(conn: sa.Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                      executemany: bool) -> tuple[str, Any]:
    pooled = conn.connection  # after _write_before_other_statements: a waiting write takes the BEGIN with it
    if _BEGIN_WAITS in pooled.info:
        if executemany:  # one statement, many parameter sets: BEGIN goes once, on its own
            pooled.info.pop(_BEGIN_WAITS)
            cursor.execute("BEGIN")
        else:
            statement = with_pending_begin(pooled, statement)
    return statement, parameters


@event.listens_for(Engine, "commit")
def _write_with_commit(conn: sa.Connection) -> None:
    if _AT_COMMIT in conn.connection.info:
        _send_write_at_commit(conn, commit=True)
    _end_our_transaction(conn, "COMMIT")  # nothing to send when the write took the COMMIT with it


@event.listens_for(Engine, "begin")
def _drop_write_at_commit(conn: sa.Connection) -> None:
    with contextlib.suppress(sa.exc.SQLAlchemyError):  # an invalidated connection has nothing waiting
        conn.connection.info.pop(_AT_COMMIT, None)


@event.listens_for(Engine, "rollback")
def _drop_write_and_roll_back(conn: sa.Connection) -> None:
    try:
        info = conn.connection.info
    except sa.exc.SQLAlchemyError:
        return  # invalidated: the connection is gone, and with it its transaction
    info.pop(_AT_COMMIT, None)
    _end_our_transaction(conn, "ROLLBACK")


@event.listens_for(sa.pool.Pool, "reset")
def _end_everything_on_return(dbapi_connection: Any, record: Any, reset_state: Any) -> None:
    """A connection given back to the pool keeps no write waiting and no transaction of ours open."""
    record.info.pop(_AT_COMMIT, None)
    ours = record.info.get(_OURS, False)
    if _ours_to_end(record.info, dbapi_connection):
        dbapi_connection.cursor().execute("ROLLBACK")  # an error here makes the pool discard the connection
    if ours:
        dbapi_connection.autocommit = False


def _hot_plan(statement: sa.Executable, params: dict[str, Any], dialect: sa.Dialect) -> _HotPlan:
    known = _hot_statements.get(id(statement))
    if known is None or known[0] is not statement:
        if len(_hot_statements) >= MAX_HOT_PLANS:
            _hot_statements.clear()
            _hot_plans.clear()
        compiled = statement.compile(dialect=dialect)
        expanding = tuple(name for name, bind in compiled.binds.items() if bind.expanding and bind.value is None)
        known = _hot_statements[id(statement)] = (statement, compiled, expanding)
    _statement, compiled, expanding = known
    shape = tuple(len(params[name]) for name in expanding)
    plan = _hot_plans.get((id(statement), shape))
    if plan is None:
        if len(_hot_plans) >= MAX_HOT_PLANS:
            _hot_plans.clear()
        state = compiled.construct_expanded_state(params)
        expansion = {name: state.parameter_expansion[name] for name in expanding}
        given = {spelled for name in params for spelled in expansion.get(name, [name])}
        # The statement's bind processors, and those of the names its IN lists were spelled out as.
        every = {**{name: process for name, process in compiled._bind_processors.items() if callable(process)},
                 **state.processors}
        processors = {name: every[name] for name in given if every.get(name)}
        defaults = {name: (every[name](value) if every.get(name) else value)
                    for name, value in state.parameters.items() if name not in given}
        columns = getattr(statement, "selected_columns", None) or []
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
        plan = _hot_plans[(id(statement), shape)] = _HotPlan(state.statement, defaults, expansion, processors,
                                                             results)
    return plan


@contextlib.contextmanager
def read_only() -> Iterator[None]:
    """Mark the work inside as reading only, so SQLite does not take the write lock for it."""
    token = write_intent.set(False)
    try:
        yield
    finally:
        write_intent.reset(token)


@contextlib.contextmanager
def unit_of_work(*, expire_on_commit: bool = True) -> Iterator[sa.orm.Session]:
    """One transaction at a boundary (request, job, command): commit on success, roll back on error.

    `expire_on_commit=False` where nothing reads the session's objects after the commit (an answer made from
    plain values): expiring every object loaded is then work for nothing."""
    session = db.session()
    try:
        yield session
        if expire_on_commit:
            session.commit()
        else:
            expiring, session.expire_on_commit = session.expire_on_commit, False
            try:
                session.commit()
            finally:
                session.expire_on_commit = expiring
    except BaseException as error:
        if getattr(error, "keeps_changes", False):
            session.commit()
        else:
            session.rollback()
        raise


def is_lock_timeout(error: BaseException) -> bool:
    """True when the database gave up waiting for a lock (PostgreSQL lock_timeout, SQLite busy)."""
    orig = getattr(error, "orig", error)  # SQLAlchemy wraps the driver's error; a raw cursor raises it bare
    sqlstate = getattr(orig, "pgcode", None)
    if sqlstate in {"55P03", "40P01", "40001"}:
        return True
    return isinstance(orig, sqlite3.OperationalError) and "locked" in str(orig)


def core_connection() -> sa.Connection:
    """The session's connection, for Core statements on a hot path, after the session's pending changes are
    flushed (as the ORM's autoflush would before a query).

    The connection is kept in the session's info until its transaction ends: asking the session for it again
    walks its transaction's state machine, and a sign-up asks four times."""
    session = db.session()  # the request's own session, looked up once
    session.flush()  # nothing to do, and cheap, when nothing is pending
    connection = session.info.get(_CONNECTION)
    if connection is None:
        connection = session.info[_CONNECTION] = session.connection()
    return connection


_CONNECTION = "childcare.core_connection"
_READ_AHEAD = "childcare.read_ahead"


@event.listens_for(sa.orm.Session, "after_transaction_end")
def _forget_connection(session: sa.orm.Session, transaction: sa.orm.SessionTransaction) -> None:
    session.info.pop(_CONNECTION, None)  # any end (a savepoint's too): the next use asks the session again
    session.info.pop(_READ_AHEAD, None)  # rows read ahead belong to the transaction that read them


# ---- rows read ahead ---------------------------------------------------------------------------------------------
# A request's first statements can share a round trip: the API's token lookup brings along what the operation will
# read first (a sign-up's programme with the children), and the operation then takes those rows instead of asking
# again. They were read in the same transaction, a moment earlier, before any lock: as though it had asked first.


def _ahead_key(statement: sa.Executable, params: Mapping[str, Any]) -> tuple:
    return id(statement), tuple(sorted((name, tuple(value) if isinstance(value, list) else value)
                                       for name, value in params.items()))


def keep_read_ahead(statement: sa.Executable, params: Mapping[str, Any], rows: Sequence[Sequence[Any]]) -> None:
    """Keep the rows `run_prepared(statement, params)` would answer, read along with another statement, for the
    rest of this transaction (`take_read_ahead`)."""
    db.session().info.setdefault(_READ_AHEAD, {})[_ahead_key(statement, params)] = rows


def take_read_ahead(statement: sa.Executable, params: Mapping[str, Any]) -> Sequence[Sequence[Any]] | None:
    """The rows of `statement` with these values if this transaction read them ahead (once), else None."""
    kept = db.session().info.get(_READ_AHEAD)
    return kept.pop(_ahead_key(statement, params), None) if kept else None


def take_sqlite_write_lock() -> None:
    """SQLite: writers begin with BEGIN IMMEDIATE, which is the lock. A transaction that began as a reader takes
    the write lock now (a no-op write), before it counts or picks ids that must still hold when it writes."""
    if db.session.get_bind().dialect.name == "sqlite" and not write_intent.get():
        db.session.execute(sa.text("UPDATE programmes SET id = id WHERE 0"))


def reserve_ids(*wanted: tuple[sa.Table, int]) -> list[list[int]]:
    """Ids for rows not yet inserted (so many per table), so that rows referring to each other can be written in
    one statement.

    PostgreSQL takes them from each table's sequence, all in one round trip (`draw_ids_sql`); gaps are harmless.
    SQLite has one writer at a time: under the write lock the next rowids are free.
    """
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        names = [table.name for table, count in wanted if count > 0]
        if not names:
            return [[] for _ in wanted]
        params = {f"count_{table.name}": count for table, count in wanted if count > 0}
        drawn = core_connection().exec_driver_sql("SELECT " + ", ".join(map(draw_ids_sql, names)), params).one()
        return ids_by_table(wanted, drawn)
    take_sqlite_write_lock()
    out = []
    for table, count in wanted:
        last = session.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))) if count > 0 else 0
        out.append(list(range(last + 1, last + count + 1)))
    return out


def draw_ids_sql(table_name: str) -> str:
    """PostgreSQL: a scalar subquery that draws `%(count_<table>)s` ids from the table's sequence (`<table>_id_seq`,
    as the migrations create it) as one array. Uncorrelated, so it runs once wherever it stands in a statement."""
    # The name is our own table's (sa.Table.name), never input.
    return f"(SELECT array_agg(nextval('{table_name}_id_seq')) FROM generate_series(1, %(count_{table_name})s))"  # noqa: S608


def ids_by_table(wanted: Sequence[tuple[sa.Table, int]], drawn: Sequence[list[int] | None]) -> list[list[int]]:
    """The ids drawn (one array per table that wanted any, in order), as reserve_ids answers them."""
    arrays = iter(drawn)
    return [list(next(arrays) or []) if count > 0 else [] for _table, count in wanted]


def insert_together(batches: list[tuple[sa.Table, list[dict]]], *, last: bool = False) -> None:
    """Insert rows into several tables in one round trip where the database can (PostgreSQL: data-modifying
    WITH clauses); otherwise one statement per table, in the order given (parents first).

    Rows carry their ids (reserve_ids), so no insert waits for another's RETURNING. Statements are built once per
    shape (tables, row counts, columns) and then come from SQLAlchemy's compiled cache. `last`: the transaction's
    last write, which may wait for its COMMIT (write_at_commit).
    """
    batches = [(table, rows) for table, rows in batches if rows]
    if not batches:
        return
    shape = tuple((table.name, len(rows), tuple(rows[0])) for table, rows in batches)
    params = {f"{number}_{index}_{key}": value
              for number, (_table, rows) in enumerate(batches)
              for index, row in enumerate(rows) for key, value in row.items()}
    together = db.session.get_bind().dialect.name == "postgresql"
    statements = _statements_for(shape, together)
    for statement in statements[:-1]:
        run_prepared(statement, params)
    (write_at_commit if last else run_prepared)(statements[-1], params)


@functools.lru_cache(maxsize=256)
def _statements_for(shape: tuple[tuple[str, int, tuple[str, ...]], ...], together: bool) -> list:
    # One single-row INSERT per row: SQLAlchemy caches the compiled form of those (not of multi-row VALUES).
    inserts = []
    for number, (name, count, keys) in enumerate(shape):
        table = db.metadata.tables[name]
        inserts.extend(sa.insert(table).values({key: sa.bindparam(f"{number}_{index}_{key}", type_=table.c[key].type)
                                                for key in keys})
                       for index in range(count))
    if not together or len(inserts) == 1:
        return [insert.execution_options(prepared=True) for insert in inserts]
    statement = inserts[-1]
    for number, insert in enumerate(inserts[:-1]):
        statement = statement.add_cte(insert.cte(f"write_{number}"))
    return [statement.execution_options(prepared=True)]


def as_loaded(model: type, values: Mapping[str, Any]) -> Any:
    """The ORM object for a row read with Core: the session's own if it has one, else one made from the values as
    though the ORM had loaded it (no SQL; attributes not given load when first used, relationships as usual).

    The values are keyed by attribute name, which in this project's models is always the column's name. The object
    joins the session as the ORM's own loader puts a new row there (identity key, session, identity map): the public
    route, make_transient_to_detached and Session.add, walks every relationship for cascades, which was a tenth of a
    sign-up's Python time for nothing to cascade.
    """
    session = db.session()
    key = identity_key(model, values["id"])
    existing = session.identity_map.get(key)
    if existing is not None:
        return existing
    obj = sa.inspect(model).class_manager.new_instance()
    obj.__dict__.update(values)  # as the ORM's loader fills an instance: no attribute events
    state = instance_state(obj)
    missing = _column_keys(model).difference(values)
    if missing:
        state._expire_attributes(state.dict, missing)  # read from the database when first used
    state.key = key
    state.identity_token = None
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, key)
    return obj


@functools.cache
def _column_keys(model: type) -> frozenset[str]:
    return frozenset(prop.key for prop in sa.inspect(model).column_attrs)


def fetch(model: type, ident: int) -> Any:
    """session.get() for a hot path: the session's own object if it has one, else one Core round trip for the row
    (no ORM query machinery); None when there is no such row."""
    existing = db.session.identity_map.get(identity_key(model, ident))
    if existing is not None:
        return existing
    row = core_connection().execute(_by_id(model), {"id": ident}).first()
    return as_loaded(model, row._asdict()) if row is not None else None


@functools.lru_cache(maxsize=64)
def _by_id(model: type) -> sa.Select:
    table = model.__table__
    return sa.select(*table.c).where(table.c.id == sa.bindparam("id")).execution_options(prepared=True)
