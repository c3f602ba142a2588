"""Fixtures: one app per run on the database named by TEST_DATABASE_URL (SQLite when unset).

The schema is built by running the migrations. Each test runs inside a transaction that is
rolled back at its end (the app's own commits only release SAVEPOINTs). Tests marked
`concurrency` or `browser` commit for real and the tables are emptied after them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.orm import scoped_session, sessionmaker

from childcare import create_app
from childcare.config import TestingConfig
from childcare.db import db, read_only, write_intent
from childcare.extensions import limiter


def _database_url(tmp_root: Path) -> str:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url:
        from childcare.config import database_url

        return database_url(url, str(tmp_root))
    return f"sqlite:///{tmp_root / 'test.db'}"


def _reset_schema(engine: sa.Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")


@pytest.fixture(scope="session")
def app():
    tmp_root = Path(tempfile.mkdtemp(prefix="childcare-test-"))
    url = _database_url(tmp_root)
    application = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url, UPLOAD_FOLDER=str(tmp_root / "uploads"))
    with application.app_context():
        _reset_schema(db.engine)
        upgrade()
        db.session.remove()
    yield application
    with application.app_context():
        db.engine.dispose()
    shutil.rmtree(tmp_root, ignore_errors=True)  # the SQLite file and uploads: nothing is left behind in /tmp


def table_names() -> list[str]:
    return [t.name for t in reversed(db.metadata.sorted_tables)]


def empty_all_tables(app) -> None:
    """After a committing test: leave the database as empty as the migrations left it."""
    with app.app_context():
        db.session.remove()
        engine = db.engine
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{n}"' for n in table_names()) +
                                     " RESTART IDENTITY CASCADE")
            else:
                for name in table_names():
                    conn.exec_driver_sql(f'DELETE FROM "{name}"')


@pytest.fixture(autouse=True)
def _isolation(request, app):
    """Roll every test back, except those that must commit for real (they are emptied after)."""
    limiter.reset()
    write_intent.set(True)
    if request.node.get_closest_marker("concurrency") or request.node.get_closest_marker("browser"):
        yield
        empty_all_tables(app)
        return
    # A deferred BEGIN on SQLite: the outer transaction takes the write lock only when the test writes,
    # so a second, read-only connection in the same test (the migrations check) is not blocked.
    with app.app_context(), read_only():
        connection = db.engine.connect()
        outer = connection.begin()
    original = db.session
    db.session = scoped_session(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False),
        scopefunc=lambda: "test",
    )
    try:
        yield
    finally:
        db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def app_ctx(app):
    """An application context for calling services directly (not for tests that also make requests)."""
    with app.app_context(), app.test_request_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login_as(client):
    """Log the test client in as a user without going through the form."""

    def _login(user):
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return client

    return _login


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_from(client, url: str = "/account/login") -> str:
    """Read a CSRF token from a page, as a browser would."""
    response = client.get(url)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


@pytest.fixture
def post_form(client):
    """POST a form with the CSRF token a page carries (CSRF stays on in tests)."""

    def _post(url: str, data: dict, *, token_from: str | None = None, **kwargs):
        token = csrf_token_from(client, token_from or url)
        return client.post(url, data={**data, "csrf_token": token}, **kwargs)

    return _post


@pytest.fixture
def count_queries(app):
    """with count_queries() as n: ...; assert n() <= 6"""

    @contextlib.contextmanager
    def _counter():
        with app.app_context():
            engine = db.engine
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            statement = statement.removeprefix("BEGIN; ")  # PostgreSQL: a transaction's BEGIN goes with its first
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")):
                statements.append(statement)

        sa.event.listen(engine, "before_cursor_execute", before)
        try:
            yield lambda: len(statements)
        finally:
            sa.event.remove(engine, "before_cursor_execute", before)

    return _counter


@pytest.fixture
def dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name
