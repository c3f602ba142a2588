"""The hot-path helpers: ids before the insert, rows of several tables in one statement, Core rows as ORM objects."""

from __future__ import annotations

from typing import Any

import psycopg2
import psycopg2.extensions
import pytest
import sqlalchemy as sa

from childcare import db as db_module
from childcare.accounts.models import User
from childcare.audit.models import AuditEntry
from childcare.config import engine_options
from childcare.db import (
    as_loaded,
    core_connection,
    db,
    fetch,
    insert_together,
    reserve_ids,
    run_prepared,
    unit_of_work,
    utcnow,
)
from childcare.enrolment import services
from childcare.notifications.models import Channel, Notification, OutboxMessage, OutboxStatus
from childcare.programmes.models import Programme
from tests.api.conftest import make_token
from tests.enrolment.factories import ChildFactory
from tests.factories import ProgrammeFactory, UserFactory

pytestmark = pytest.mark.usefixtures("app_ctx")


def _notification(user: User, notification_id: int) -> dict:
    return {"id": notification_id, "user_id": user.id, "kind": "account.welcome", "data": {"name": user.name},
            "link": "", "created_at": utcnow(), "read_at": None}


def _outbox(user: User, notification_id: int) -> dict:
    return {"notification_id": notification_id, "user_id": user.id, "channel": Channel.SMS, "recipient": user.phone,
            "payload": {"subject": "s", "body": "b"}, "status": OutboxStatus.PENDING, "attempts": 0,
            "last_error": "", "created_at": utcnow(), "sent_at": None}


def test_reserved_ids_are_new_distinct_and_in_order():
    first, none = reserve_ids((Notification.__table__, 3), (AuditEntry.__table__, 0))
    assert none == [] and len(set(first)) == 3 and first == sorted(first)
    existing = db.session.scalar(sa.select(sa.func.max(Notification.id))) or 0
    assert first[0] > existing


def test_rows_that_refer_to_each_other_go_out_together_in_one_statement_on_postgresql(count_queries, dialect):
    parent, child = UserFactory(), UserFactory()
    ids, = reserve_ids((Notification.__table__, 2))
    db.session.flush()
    with count_queries() as statements:
        insert_together([(Notification.__table__, [_notification(parent, ids[0]), _notification(child, ids[1])]),
                         (OutboxMessage.__table__, [_outbox(parent, ids[0]), _outbox(child, ids[1])])])
    assert statements() == (1 if dialect == "postgresql" else 4)  # SQLite: one single-row INSERT per row
    sent = db.session.execute(sa.select(OutboxMessage.notification_id, OutboxMessage.recipient)
                              .where(OutboxMessage.notification_id.in_(ids)).order_by(OutboxMessage.notification_id)).all()
    assert sent == [(ids[0], parent.phone), (ids[1], child.phone)]
    assert db.session.get(Notification, ids[1]).data == {"name": child.name}  # JSON went through its column type


def test_a_last_write_is_seen_by_the_next_statement_of_its_transaction(count_queries, dialect):
    user = UserFactory()
    ids, = reserve_ids((Notification.__table__, 1))
    db.session.flush()
    with count_queries() as statements:
        insert_together([(Notification.__table__, [_notification(user, ids[0])])], last=True)
    assert statements() == (0 if dialect == "postgresql" else 1)  # PostgreSQL: it waits for the COMMIT
    assert db.session.scalar(sa.select(Notification.user_id).where(Notification.id == ids[0])) == user.id


def _committed_notification(notification_id: int) -> int | None:
    with db.engine.connect() as other:  # another connection: sees only what was committed
        return other.scalar(sa.select(Notification.user_id).where(Notification.id == notification_id))


@pytest.mark.concurrency
def test_a_last_write_goes_out_with_the_commit_in_one_message(count_queries, dialect):
    user = UserFactory()
    db.session.commit()
    ids, = reserve_ids((Notification.__table__, 1))
    row = _notification(user, ids[0])
    sent: list[str] = []

    def record(conn, cursor, statement, *_args) -> None:
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        with count_queries() as statements:
            insert_together([(Notification.__table__, [row])], last=True)
            db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert statements() == 1
    if dialect == "postgresql":  # the write and the COMMIT left in one message, the lock ends as the write lands
        (message,) = sent  # and nothing after it: the boundary's commit had nothing left to send
        assert message.endswith("; COMMIT")
    assert _committed_notification(ids[0]) == user.id
    # The connection is fine afterwards: the next transaction reads and commits as usual.
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == 1
    db.session.commit()


def _new_user(name: str) -> User:
    """An account added to the session, not committed (factories commit)."""
    user = User(phone=f"+86137{abs(hash(name)) % 10**8:08d}", name=name, password_hash="x")
    db.session.add(user)
    return user


def _user_names() -> list[str]:
    with db.engine.connect() as other:  # another connection: sees only what was committed
        return list(other.scalars(sa.select(User.name).order_by(User.id)))


def _messages_sent(engine: sa.Engine) -> tuple[list[str], Any]:
    """Every message the app sends through SQLAlchemy from now on (the caller removes the returned listener)."""
    sent: list[str] = []

    def record(conn, cursor, statement, *_args) -> None:
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    return sent, record


@pytest.mark.concurrency
def test_a_transactions_begin_goes_out_with_its_first_statement_and_its_commit_ends_it(dialect):
    if dialect != "postgresql":
        pytest.skip("SQLite's BEGIN (IMMEDIATE) is a call into the library, not a round trip")
    sent, record = _messages_sent(db.engine)
    try:
        user = _new_user("甲")
        db.session.flush()
        raw = core_connection().connection.dbapi_connection
        # The database is in a transaction that the driver did not begin: it sent no BEGIN of its own.
        assert raw.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
        assert raw.status == psycopg2.extensions.STATUS_READY
        db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert sent[0].startswith("BEGIN; INSERT INTO users")
    assert not any(message.startswith("BEGIN") for message in sent[1:])
    assert sent[-1] == "COMMIT"
    assert raw.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE and not raw.autocommit
    assert _user_names() == [user.name]


@pytest.mark.concurrency
def test_a_transaction_that_ran_nothing_sends_nothing(dialect):
    if dialect != "postgresql":
        pytest.skip("the BEGIN that waits for a first statement is PostgreSQL's")
    with db.engine.connect() as connection:
        sent, record = _messages_sent(db.engine)
        try:
            connection.begin()
            connection.commit()
            connection.begin()
            connection.rollback()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        raw = connection.connection.dbapi_connection
        assert sent == []
        assert raw.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE and not raw.autocommit


@pytest.mark.concurrency
def test_a_rollback_keeps_nothing_of_the_transaction_and_the_connection_works_on(dialect):
    _new_user("留下")
    db.session.commit()
    _new_user("撤回")
    db.session.flush()
    db.session.execute(sa.update(User).values(name="改过"))
    db.session.rollback()
    assert _user_names() == ["留下"]
    _new_user("再来")
    db.session.commit()
    assert _user_names() == ["留下", "再来"]


@pytest.mark.concurrency
def test_an_error_in_a_transaction_rolls_back_the_work_before_it(dialect):
    _new_user("先写")
    db.session.flush()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.insert(User).values(phone=None, name="错"))  # phone is required
    db.session.rollback()
    assert _user_names() == []
    _new_user("后写")
    db.session.commit()
    assert _user_names() == ["后写"]


@pytest.mark.concurrency
def test_a_first_statement_that_never_left_leaves_the_transaction_whole(dialect):
    with db.engine.connect() as connection:
        connection.begin()
        with pytest.raises(sa.exc.SQLAlchemyError):  # the driver cannot send this value: nothing leaves
            connection.execute(sa.text("SELECT :value"), {"value": object()})
        connection.execute(sa.insert(User).values(phone="+8613800008888", name="不留", password_hash="x",
                                                  created_at=utcnow()))
        connection.rollback()
    assert _user_names() == []


@pytest.mark.concurrency
def test_many_parameter_sets_as_the_first_statement_run_inside_the_transaction(dialect):
    first, second = _new_user("一"), _new_user("二")
    db.session.commit()
    ids = [first.id, second.id]
    db.session.commit()  # the read of the ids ends: SQLite has one writer at a time
    with db.engine.connect() as connection:
        connection.begin()
        result = connection.execute(sa.text("UPDATE users SET name = :name WHERE id = :id"),
                                    [{"name": "改", "id": ids[0]}, {"name": "改", "id": ids[1]}])
        assert result.rowcount == 2
        connection.rollback()
    assert _user_names() == ["一", "二"]


@pytest.mark.concurrency
def test_a_connection_given_back_to_the_pool_in_a_transaction_keeps_nothing_of_it(dialect):
    if dialect != "postgresql":
        pytest.skip("the pool's own rollback covers SQLite")
    connection = db.engine.connect()
    connection.begin()
    connection.execute(sa.insert(User).values(phone="+8613800009999", name="半途", password_hash="x",
                                              locale="zh_CN", created_at=utcnow()))
    pooled = connection.connection
    raw = pooled.dbapi_connection
    pooled.close()  # back to the pool under the Connection's feet, as a connection collected as garbage goes
    assert raw.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE and not raw.autocommit
    connection.invalidate()  # the Connection itself is done with
    assert _user_names() == []


@pytest.mark.concurrency
def test_a_rollback_drops_a_waiting_last_write(dialect):
    user = UserFactory()
    db.session.commit()
    dropped, = reserve_ids((Notification.__table__, 1))
    insert_together([(Notification.__table__, [_notification(user, dropped[0])])], last=True)
    db.session.rollback()
    kept, = reserve_ids((Notification.__table__, 1))
    insert_together([(Notification.__table__, [_notification(user, kept[0])])], last=True)
    db.session.commit()
    with db.engine.connect() as other:  # SQLite may give the dropped row's id again: count them
        assert other.scalar(sa.select(sa.func.count(Notification.id))) == 1
    assert _committed_notification(kept[0]) == user.id


@pytest.mark.concurrency
def test_a_last_write_that_fails_at_the_commit_raises_as_sqlalchemy_does_and_nothing_is_kept(dialect):
    user = UserFactory()
    db.session.commit()
    ids, = reserve_ids((Notification.__table__, 1))
    orphan = {**_notification(user, ids[0]), "user_id": user.id + 1000}  # no such account
    with pytest.raises(sa.exc.IntegrityError):
        insert_together([(Notification.__table__, [orphan])], last=True)
        db.session.commit()
    db.session.rollback()
    assert _committed_notification(ids[0]) is None
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1  # the session works on


def test_a_row_read_with_core_becomes_the_sessions_own_object_without_a_query(count_queries):
    user = UserFactory()
    db.session.flush()
    assert as_loaded(User, {"id": user.id, "name": "ignored"}) is user  # the session's object wins
    camp = ProgrammeFactory()
    db.session.flush()
    db.session.expunge(camp)
    with count_queries() as statements:
        again = fetch(Programme, camp.id)
        assert fetch(Programme, camp.id) is again  # the second time from the identity map
        assert (again.title, again.capacity) == (camp.title, camp.capacity)
    assert statements() == 1
    assert again in db.session and not db.session.is_modified(again)
    assert fetch(Programme, 2_000_000_000) is None


def test_an_object_made_from_part_of_a_row_reads_the_rest_when_used_and_saves_its_changes(count_queries):
    camp = ProgrammeFactory(capacity=12)
    db.session.flush()
    camp_id, community_id = camp.id, camp.community_id
    db.session.expunge(camp)
    with count_queries() as statements:
        made = as_loaded(Programme, {"id": camp_id, "title": "夏令营"})
        assert made in db.session and not db.session.is_modified(made)
        assert made.capacity == 12  # the columns not given, in one query
        assert made.community.id == community_id  # a relationship loads as usual
    assert statements() == 2
    made.title = "暑期成长营"
    db.session.flush()
    db.session.expire_all()
    assert db.session.get(Programme, camp_id).title == "暑期成长营"


def test_a_hot_statement_gives_the_rows_an_ordinary_execution_gives(count_queries):
    from childcare.api.auth import _TOKEN_WITH_ACCOUNT, hash_token
    from childcare.enrolment.services import _PROGRAMME_AND_CHILDREN

    guardian = UserFactory()
    token = make_token(guardian)
    kids = [ChildFactory(guardian=guardian), ChildFactory(guardian=guardian)]
    camp = ProgrammeFactory()
    services.enrol(actor=guardian, programme_id=camp.id, child_ids=[kids[0].id])
    db.session.commit()
    asked = [
        (_TOKEN_WITH_ACCOUNT, {"hashed_token": hash_token(token)}),
        (_PROGRAMME_AND_CHILDREN, {"programme_id": camp.id, "actor_id": guardian.id, "child_ids": [kids[0].id],
                                   "session_ids": []}),
        (_PROGRAMME_AND_CHILDREN, {"programme_id": camp.id, "actor_id": guardian.id,
                                   "child_ids": [k.id for k in kids], "session_ids": []}),
        (db_module._by_id(Programme), {"id": camp.id}),
    ]
    for statement, params in asked:
        expected = [tuple(row) for row in core_connection().execute(statement, params)]
        with count_queries() as statements:
            rows = run_prepared(statement, params)
        assert repr([tuple(row) for row in rows]) == repr(expected) and len(expected) >= 1  # types and zones too
        assert statements() == 1  # seen by the engine's events like any statement
    programme_row = run_prepared(*asked[-1])[0]
    assert any(value == camp.registration_opens_at and value.tzinfo is not None for value in programme_row)
    assert camp.kind in programme_row and camp.themes in programme_row  # an enum and a JSON list, as the ORM has them


def test_hot_plans_never_pile_up(monkeypatch):
    from childcare.enrolment.services import _PROGRAMME_AND_CHILDREN

    guardian = UserFactory()
    kids = [ChildFactory(guardian=guardian) for _ in range(5)]
    camp = ProgrammeFactory()
    db.session.commit()
    monkeypatch.setattr(db_module, "MAX_HOT_PLANS", 2)
    monkeypatch.setattr(db_module, "_hot_plans", {})
    monkeypatch.setattr(db_module, "_hot_statements", {})
    for count in range(1, 6):  # a new shape of the IN list each time
        rows = run_prepared(_PROGRAMME_AND_CHILDREN, {"programme_id": camp.id, "actor_id": guardian.id,
                                                      "child_ids": [k.id for k in kids[:count]], "session_ids": []})
        assert sorted({row[services._CHILD_AT.start] for row in rows}) == sorted(k.id for k in kids[:count])
        assert len(db_module._hot_plans) <= 2 and len(db_module._hot_statements) <= 2


def test_a_hot_statement_that_fails_raises_as_sqlalchemy_does_and_the_transaction_can_roll_back():
    user = UserFactory()
    db.session.commit()
    clash = [{"id": user.id, "phone": user.phone, "name": "x", "password_hash": "", "locale": None, "active": True,
              "session_version": 1, "created_at": utcnow(), "last_login_at": None, "calendar_token": None}]
    with pytest.raises(sa.exc.IntegrityError):
        insert_together([(User.__table__, clash)])
    db.session.rollback()
    assert db.session.get(User, user.id).name == user.name


def test_pending_changes_are_flushed_before_a_core_read():
    user = UserFactory.build()
    db.session.add(user)  # pending: not yet in the database
    found = core_connection().execute(sa.select(User.__table__.c.id).where(User.__table__.c.phone == user.phone))
    assert found.scalar() == user.id is not None


def test_the_core_connection_is_the_sessions_until_its_transaction_ends():
    first = core_connection()
    assert core_connection() is first is db.session.connection()
    db.session.commit()
    assert db.session.info.get("childcare.core_connection") is None  # asked of the session again next time
    assert core_connection() is db.session.connection()


def test_a_unit_of_work_that_answers_with_plain_values_leaves_its_objects_unexpired(monkeypatch):
    user = UserFactory()
    monkeypatch.setattr(db.session(), "expire_on_commit", True)  # as outside the tests
    with unit_of_work(expire_on_commit=False):
        user.name  # noqa: B018 (loaded)
    assert "name" in user.__dict__ and db.session().expire_on_commit is True
    with unit_of_work():
        pass
    assert "name" not in user.__dict__  # the usual commit expires what it loaded


def test_every_model_names_its_attributes_as_its_columns():
    """as_loaded() fills objects from Core rows by key, so an attribute named apart from its column would be lost."""
    renamed = [(mapper.class_.__name__, column.key, mapper.get_property_by_column(column).key)
               for mapper in db.Model.registry.mappers for column in mapper.local_table.columns
               if mapper.get_property_by_column(column).key != column.key]
    assert renamed == []


@pytest.mark.concurrency
def test_a_connection_the_database_dropped_answers_try_again_and_the_next_request_works(app, client, dialect):
    if dialect != "postgresql":
        pytest.skip("a SQLite file cannot drop its connections")
    with app.app_context():
        token = make_token(UserFactory())
        db.session.remove()
        db.engine.dispose()  # only connections of this test's moment (the pool dates them by the clock)
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # the pool now holds a connection
    with app.app_context():
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = psycopg2.connect(url)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:  # as a database restart would: every connection of the app is dropped
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    finally:
        admin.close()

    dropped = client.get("/api/v1/me", headers=headers)
    assert dropped.status_code == 503 and dropped.headers["Retry-After"] == "1"
    assert dropped.mimetype == "application/problem+json"
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def _prepared_here() -> list[str]:
    return list(core_connection().exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars())


_PERCENT_AND_PARAMETER = sa.text("SELECT '100%' AS share, id FROM users WHERE id = :id").execution_options(
    prepared=True)


def test_a_hot_statement_is_planned_once_per_connection_and_answers_as_the_plain_one(dialect):
    user = UserFactory()
    plain = core_connection().execute(_PERCENT_AND_PARAMETER.execution_options(prepared=False), {"id": user.id}).all()
    first = core_connection().execute(_PERCENT_AND_PARAMETER, {"id": user.id}).all()
    db.session.rollback()  # a prepared statement outlives the transaction that made it
    again = core_connection().execute(_PERCENT_AND_PARAMETER, {"id": user.id}).all()
    assert plain == first == again == [("100%", user.id)]
    if dialect == "postgresql":
        mine = [text for text in _prepared_here() if "'100%'" in text]
        assert len(mine) == 1 and "$1" in mine[0]


def test_a_connection_holding_many_prepared_statements_runs_further_ones_as_they_are(dialect, monkeypatch):
    if dialect != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    user = UserFactory()
    held = len(core_connection().connection.info.get("prepared_statements", {}))
    monkeypatch.setattr(db_module, "MAX_PREPARED_PER_CONNECTION", held)
    statement = sa.text("SELECT id FROM users WHERE id = :id AND 17 = 17").execution_options(prepared=True)
    assert core_connection().execute(statement, {"id": user.id}).scalar() == user.id
    assert not [text for text in _prepared_here() if "17 = 17" in text]


def test_a_sign_up_plans_its_statements_once_per_connection(dialect):
    if dialect != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    programme = ProgrammeFactory(capacity=1)
    prepared = []
    for _ in range(2):
        guardian = UserFactory()
        child = ChildFactory(guardian=guardian)
        db.session.flush()
        services.enrol(actor=guardian, programme_id=programme.id, child_ids=[child.id])
        prepared.append(_prepared_here())
    assert prepared[1] == prepared[0]  # the second sign-up found every statement prepared by the first
    for fragment in ("FOR UPDATE", "INSERT INTO enrolments", "LEFT OUTER JOIN (children JOIN guardianships"):
        assert any(fragment in text for text in prepared[0]), fragment
    # ...and planned each once: a generic plan, never re-planned for the values of an execution.
    plans = core_connection().exec_driver_sql("SELECT custom_plans FROM pg_prepared_statements").scalars().all()
    assert plans and set(plans) == {0}, plans


def test_behind_a_pooler_in_transaction_mode_nothing_is_prepared(app, dialect):
    if dialect != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    engine = sa.create_engine(url, **engine_options(url, {}, 5, prepared_statements=False))
    try:
        with engine.connect() as connection:
            statement = sa.text("SELECT :n + 1 AS next").execution_options(prepared=True)
            assert connection.execute(statement, {"n": 41}).scalar() == 42
            assert connection.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar() == 0
    finally:
        engine.dispose()
