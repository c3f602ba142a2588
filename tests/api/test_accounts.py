"""Accounts and tokens over the API: register, get a token, use it, revoke it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from childcare.accounts.models import ApiToken, User
from childcare.api.auth import authenticate_request, hash_token
from childcare.db import db, utcnow
from tests.api.conftest import make_token
from tests.factories import PASSWORD, CommunityFactory, CoordinatorFactory, UserFactory


def test_a_guardian_registers_over_the_api(api):
    response = api().post("/api/v1/accounts", {"phone": "138 0013 9000", "password": "Xingbei-2026", "name": "李妈妈"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["phone"] == "+8613800139000"
    assert body["roles"] == [{"role": "guardian", "community_id": None}]
    assert body["created_at"].endswith("+08:00")
    assert db.session.scalar(sa.select(User).where(User.phone == "+8613800139000")) is not None


def test_a_registered_phone_is_refused_with_422(api):
    UserFactory(phone="+8613800139001")
    response = api().post("/api/v1/accounts", {"phone": "13800139001", "password": "Xingbei-2026", "name": "李爸爸"})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "phone_taken"
    assert response.get_json()["errors"][0]["field"] == "phone"


def test_a_bad_phone_is_refused_in_the_requested_language(api):
    body = {"phone": "12345", "password": "Xingbei-2026", "name": "李爸爸"}
    english = api(language="en").post("/api/v1/accounts", body)
    chinese = api(language="zh-CN").post("/api/v1/accounts", body)
    for response in (english, chinese):
        assert response.status_code == 422
        assert [e["field"] for e in response.get_json()["errors"]] == ["phone"]
    assert "mobile number" in english.get_json()["detail"]
    assert "请输入有效的" in chinese.get_json()["detail"]


def test_missing_and_wrongly_typed_fields_are_listed_per_field(api):
    response = api(language="en").post("/api/v1/accounts", {"phone": 13800139002, "name": "x", "extra": 1})
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "invalid"
    fields = {e["field"]: e for e in problem["errors"]}
    assert set(fields) == {"phone", "password", "extra"}
    assert fields["password"]["detail"] == "This field is required."
    chinese = api(language="zh-CN").post("/api/v1/accounts", {"name": "x"})
    assert all(e["detail"] != "This field is required." for e in chinese.get_json()["errors"])


def test_malformed_json_is_a_400_problem_never_a_500(client):
    for data in ("{not json", "[1, 2", '{"a": NaN}', "[" * 100000):
        response = client.post("/api/v1/accounts", data=data, content_type="application/json")
        assert response.status_code == 400, data[:20]
        assert response.get_json()["code"] == "invalid"
    response = client.post("/api/v1/accounts", json=[1, 2, 3])
    assert response.status_code == 422


def test_registration_is_rate_limited_with_retry_after(api, app):
    anonymous = api()
    for n in range(5):
        anonymous.post("/api/v1/accounts", {"phone": f"1380013910{n}", "password": "x", "name": "x"})
    response = anonymous.post("/api/v1/accounts", {"phone": "13800139109", "password": "x", "name": "x"})
    assert response.status_code == 429
    assert response.get_json()["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_a_token_is_created_used_and_revoked(api, client):
    user = UserFactory(phone="+8613800139010")
    response = api().post("/api/v1/tokens", {"phone": "13800139010", "password": PASSWORD})
    assert response.status_code == 201
    token = response.get_json()["token"]
    stored = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.get_json()["id"] == user.id
    assert "Set-Cookie" not in me.headers
    assert client.delete("/api/v1/tokens/current", headers=headers).status_code == 204
    refused = client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"


def test_a_wrong_password_gets_no_token(api):
    UserFactory(phone="+8613800139011")
    response = api().post("/api/v1/tokens", {"phone": "13800139011", "password": "Wrong-pass-1"})
    assert response.status_code == 401
    assert response.get_json()["code"] == "bad_credentials"


def test_no_token_or_a_bad_one_is_401_unauthenticated(client):
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["code"] == "unauthenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(("language", "title", "not_found_title"), [
    ("zh-CN", "请先登录", "页面不存在"),
    ("en", "Please log in", "Page not found"),
])
def test_refusals_are_titled_in_the_callers_language(client, language, title, not_found_title):
    refused = client.get("/api/v1/me", headers={"Accept-Language": language})
    assert refused.get_json()["title"] == title
    missing = client.get("/api/v1/no-such-thing", headers={"Accept-Language": language})
    assert missing.status_code == 404 and missing.get_json()["title"] == not_found_title


def test_last_used_is_stamped_at_most_once_a_minute(api):
    user = UserFactory()
    guardian = api(user)

    def stamp():
        return db.session.scalar(sa.select(ApiToken.last_used_at).where(ApiToken.user_id == user.id))

    assert stamp() is None
    guardian.get("/api/v1/me")
    first = stamp()
    assert first is not None
    guardian.get("/api/v1/me")
    assert stamp() == first
    db.session.execute(sa.update(ApiToken).where(ApiToken.user_id == user.id)
                       .values(last_used_at=utcnow() - timedelta(minutes=2)))
    db.session.commit()
    guardian.get("/api/v1/me")
    assert stamp() > first - timedelta(seconds=1)


def test_me_lists_roles_with_their_community(api):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    body = api(coordinator).get("/api/v1/me").get_json()
    assert {"role": "coordinator", "community_id": community.id} in body["roles"]


def test_the_token_lookup_is_one_query_with_the_roles(api, count_queries):
    guardian = api(UserFactory())
    guardian.get("/api/v1/me")  # the once-a-minute stamp happens here, not below
    with count_queries() as n:
        assert guardian.get("/api/v1/me").status_code == 200
    assert n() == 1


def test_an_api_call_works_with_the_account_but_not_its_secrets(app):
    with app.app_context():
        token = make_token(UserFactory(calendar_token="feed-secret"))
        db.session.remove()
    with app.test_request_context("/api/v1/me", headers={"Authorization": f"Bearer {token}"}):
        account = authenticate_request()
        assert {"password_hash", "calendar_token"} <= sa.inspect(account).unloaded
        assert account.calendar_token == "feed-secret"  # read when something asks for it
        db.session.remove()


def test_unknown_api_paths_and_methods_answer_problem_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
    response = client.put("/api/v1/me")
    assert response.status_code == 405
    assert response.get_json()["code"] == "method_not_allowed"


def _due_token(app) -> tuple[str, sa.Engine]:
    """A new account's token last used five minutes ago (due its stamp), and the engine."""
    with app.app_context():
        token = make_token(UserFactory())
        db.session.execute(sa.update(ApiToken).where(ApiToken.token_hash == hash_token(token))
                           .values(last_used_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        db.session.remove()
        return token, db.engine


def _last_used(app, token: str):
    with app.app_context():
        stamped = db.session.scalar(sa.select(ApiToken.last_used_at).where(ApiToken.token_hash == hash_token(token)))
        db.session.remove()
    return stamped


@pytest.mark.concurrency
def test_on_postgresql_a_due_token_is_stamped_by_its_lookup_and_committed_with_the_work(app, client, dialect):
    if dialect != "postgresql":
        pytest.skip("SQLite writes the stamp in a transaction of its own, under its write lock")
    token, engine = _due_token(app)
    sent: list[tuple[bool, str]] = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        made = conn.connection.info.get("prepared_statements", {})  # the SQL behind an EXECUTE, if it is one
        own = statement.removeprefix("BEGIN; ")  # a transaction's BEGIN goes out with its first statement
        database = conn.connection.dbapi_connection.info
        in_transaction = own != statement or database.transaction_status != TRANSACTION_STATUS_IDLE
        sent.append((in_transaction, next((sql for sql, execute in made.items() if execute == own), own)))

    sa.event.listen(engine, "before_cursor_execute", watch)
    try:
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        sa.event.remove(engine, "before_cursor_execute", watch)
    assert response.status_code == 200
    # One statement: the lookup, which stamps; nothing outside the request's transaction, no UPDATE of its own.
    assert [statement for _in_transaction, statement in sent[1:]] == ["COMMIT"]
    in_transaction, statement = sent[0]
    assert in_transaction
    assert "UPDATE api_tokens SET last_used_at" in statement and "SKIP LOCKED" in statement
    assert utcnow() - _last_used(app, token) < timedelta(minutes=1)
    with app.app_context(), db.engine.connect() as connection:
        # Connections stay as they were opened: transactions READ COMMITTED, by the connection's own setting.
        raw = connection.connection.dbapi_connection
        assert (raw.autocommit, raw.isolation_level) == (False, None)
        assert connection.exec_driver_sql("SHOW default_transaction_isolation").scalar() == "read committed"


@pytest.mark.concurrency
def test_a_request_that_fails_still_stamps_its_token_on_its_own(app, client):
    token, _engine = _due_token(app)
    # Refused after the lookup: its transaction is rolled back, and the stamp made in it with it.
    response = client.post("/api/v1/children", json={"name": ""}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    assert utcnow() - _last_used(app, token) < timedelta(minutes=1)


@pytest.mark.concurrency
def test_on_postgresql_a_stamp_on_its_own_does_not_wait_for_the_logs_flush(app, client, dialect):
    if dialect != "postgresql":
        pytest.skip("SQLite writes the stamp in a transaction of its own, under its write lock")
    token, engine = _due_token(app)
    sent: list[str] = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", watch)
    try:
        response = client.post("/api/v1/children", json={"name": ""}, headers={"Authorization": f"Bearer {token}"})
    finally:
        sa.event.remove(engine, "before_cursor_execute", watch)
    assert response.status_code == 422
    # Losing a last-use stamp in a crash harms nothing: its own one-message transaction commits without the flush.
    stamp = sent[-1]
    assert stamp.startswith("SET LOCAL synchronous_commit TO off; ") and "BEGIN" not in stamp
    assert utcnow() - _last_used(app, token) < timedelta(minutes=1)
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"  # for that message alone


@pytest.mark.concurrency
def test_a_token_being_stamped_by_another_request_is_not_waited_for(app, client, dialect):
    if dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time; the stamp waits for it there")
    token, engine = _due_token(app)
    with engine.connect() as other:
        # Another request of the same account, in the middle of stamping: it holds the token's row.
        other.execute(sa.select(ApiToken.id).where(ApiToken.token_hash == hash_token(token)).with_for_update())
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        other.rollback()


@pytest.mark.concurrency  # its own connections, as a second server would have
def test_behind_a_pooler_in_transaction_mode_the_api_works_and_stamps_only_the_last_use(app, dialect):
    """With prepared statements off (PREPARED_STATEMENTS=0, for PgBouncer) SQLAlchemy runs the token lookup itself:
    a due token is stamped, its hash stays as it was, and a sign-up reads its programme along with it."""
    if dialect != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    from childcare import create_app
    from childcare.config import TestingConfig
    from tests.api.test_children import CHILD
    from tests.factories import ProgrammeFactory

    with app.app_context():
        programme_id = ProgrammeFactory(capacity=3).id
        token = make_token(UserFactory())
        db.session.execute(sa.update(ApiToken).values(last_used_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        db.session.remove()
    pooled = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                        UPLOAD_FOLDER=app.config["UPLOAD_FOLDER"], PREPARED_STATEMENTS=False)
    client = pooled.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        child = client.post("/api/v1/children", json=CHILD, headers=headers)
        assert child.status_code == 201, child.get_json()
        enrolled = client.post("/api/v1/enrolments", json={"programme_id": programme_id,
                                                            "child_ids": [child.get_json()["id"]]}, headers=headers)
        assert enrolled.status_code == 201, enrolled.get_json()
        with pooled.app_context():
            assert db.session.execute(sa.text("SELECT statement FROM pg_prepared_statements")).scalars().all() == []
            stored = db.session.scalar(sa.select(ApiToken))
            assert stored.token_hash == hash_token(token)
            assert utcnow() - stored.last_used_at < timedelta(minutes=1)
            db.session.remove()
    finally:
        with pooled.app_context():
            db.engine.dispose()
