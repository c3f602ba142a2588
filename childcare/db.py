"""Declarative base, UTC timestamps, units of work and the per-database write-transaction helpers."""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

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


@contextlib.contextmanager
def read_only() -> Iterator[None]:
    """Mark the work inside as reading only, so SQLite does not take the write lock for it."""
    token = write_intent.set(False)
    try:
        yield
    finally:
        write_intent.reset(token)


@contextlib.contextmanager
def unit_of_work() -> Iterator[sa.orm.Session]:
    """One transaction at a boundary (request, job, command): commit on success, roll back on error."""
    session = db.session
    try:
        yield session
        session.commit()
    except BaseException as error:
        if getattr(error, "keeps_changes", False):
            session.commit()
        else:
            session.rollback()
        raise


def is_lock_timeout(error: BaseException) -> bool:
    """True when the database gave up waiting for a lock (PostgreSQL lock_timeout, SQLite busy)."""
    orig = getattr(error, "orig", None)
    if orig is None:
        return False
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in {"55P03", "40P01", "40001"}:
        return True
    return isinstance(orig, sqlite3.OperationalError) and "locked" in str(orig)
