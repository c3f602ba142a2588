"""Bearer tokens for the JSON API: issue, look up by hash, revoke, and the once-a-minute last-used stamp."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import psycopg2
import sqlalchemy as sa
from flask import g, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.attributes import set_committed_value

from childcare.accounts.models import ApiToken, RoleGrant, User
from childcare.audit.services import record
from childcare.db import (
    as_loaded,
    core_connection,
    db,
    keep_read_ahead,
    run_prepared,
    unit_of_work,
    utcnow,
    write_intent,
    write_unflushed,
)
from childcare.errors import DomainError, NotFound

#: a token used again within this span keeps its stamp: one write a minute, not one per request
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_TOKENS_PER_ACCOUNT = 20


class Unauthenticated(DomainError):
    """No token, or a token that is unknown, revoked or belongs to a disabled account."""

    status = 401
    code = "unauthenticated"
    default_message = _l("A valid access token is required (Authorization: Bearer <token>).")


def hash_token(token: str) -> str:
    """The hex SHA-256 that is stored instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(*, actor: User, name: str = "") -> tuple[ApiToken, str]:
    """A new personal token for the actor; the plain token is returned once and never stored."""
    name = (name or "").strip()
    if len(name) > 80:
        raise DomainError(_l("The name may have at most 80 characters."), field="name", code="invalid")
    live = db.session.scalar(sa.select(sa.func.count(ApiToken.id))
                             .where(ApiToken.user_id == actor.id, ApiToken.revoked_at.is_(None)))
    if live >= MAX_TOKENS_PER_ACCOUNT:
        raise DomainError(_l("You have too many access tokens. Please revoke one you no longer use."),
                          code="too_many_tokens")
    token = secrets.token_urlsafe(32)
    api_token = ApiToken(user_id=actor.id, token_hash=hash_token(token), name=name)
    db.session.add(api_token)
    db.session.flush()
    record(actor=actor, action="api_token.created", obj=api_token, after={"name": name})
    return api_token, token


def revoke_token(*, actor: User, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens (someone else's answers 'not found'); idempotent."""
    api_token = db.session.get(ApiToken, token_id)
    if api_token is None or api_token.user_id != actor.id:
        raise NotFound()
    if api_token.revoked_at is None:
        api_token.revoked_at = utcnow()
        record(actor=actor, action="api_token.revoked", obj=api_token)
    return api_token


def tokens_of(actor: User) -> list[ApiToken]:
    """The actor's tokens, newest first."""
    query = sa.select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.id.desc()).limit(200)
    return list(db.session.scalars(query))


def bearer_token() -> str | None:
    """The token from `Authorization: Bearer <token>`, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value if 0 < len(value) <= 200 else None


_users = User.__table__
_grants = RoleGrant.__table__
# The account as a request needs it: its secrets (the password's hash, the calendar feed's token) are not read on
# every call; they load if a request asks for them.
_ACCOUNT_COLUMNS = [column for column in _users.c if column.key not in ("password_hash", "calendar_token")]
# The token, its account and the account's roles (one row per role, or one row with none) in one round trip. The
# token's hash goes by a name that is no column of api_tokens: SQLAlchemy reads an execution's values named like a
# column as new values for the stamp's UPDATE (below).
_TOKEN_WITH_ACCOUNT = (sa.select(ApiToken.id.label("token_id"), ApiToken.last_used_at.label("token_last_used_at"),
                                 *_ACCOUNT_COLUMNS, *(column.label(f"grant_{column.key}") for column in _grants.c))
                       .join(_users, _users.c.id == ApiToken.user_id)
                       .outerjoin(_grants, _grants.c.user_id == _users.c.id)
                       .where(ApiToken.token_hash == sa.bindparam("hashed_token"), ApiToken.revoked_at.is_(None),
                              _users.c.active.is_(True))
                       .order_by(_grants.c.id)
                       .execution_options(prepared=True))
_USER_KEYS = [column.key for column in _ACCOUNT_COLUMNS]
_GRANT_KEYS = [column.key for column in _grants.c]
_USERS_AT = slice(2, 2 + len(_USER_KEYS))  # the row: token id, token's last use, the account, one role
_GRANT_AT = slice(_USERS_AT.stop, _USERS_AT.stop + len(_GRANT_KEYS))


# PostgreSQL stamps a token that is due (once a minute) in the lookup itself, in a data-modifying WITH clause: the
# stamp then commits with the request's own work, with no round trip or transaction of its own (in a sign-up rush
# nearly every token is due, parents having signed in minutes before). SKIP LOCKED: a token that another request
# is stamping at this moment is left to it, never waited for.
_DUE = (sa.select(ApiToken.id)
        .where(ApiToken.token_hash == sa.bindparam("hashed_token"), ApiToken.revoked_at.is_(None),
               sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < sa.bindparam("stale_before")))
        .with_for_update(skip_locked=True)
        .scalar_subquery())
_TOKEN_WITH_ACCOUNT_STAMPING = _TOKEN_WITH_ACCOUNT.add_cte(
    sa.update(ApiToken).where(ApiToken.id == _DUE)
    .values(last_used_at=sa.bindparam("now", type_=ApiToken.__table__.c.last_used_at.type))
    .returning(ApiToken.id).cte("stamp"))
#: session.info key: (token id, the transaction that stamped it in the lookup) until that transaction commits
_STAMPED_IN = "childcare.api_token_stamped_in"


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _stamp_committed(session: sa.orm.Session) -> None:
    stamped = session.info.get(_STAMPED_IN)
    if stamped is not None and not session.in_nested_transaction() and session.get_transaction() is stamped[1]:
        del session.info[_STAMPED_IN]  # committed with the request's work: nothing left to do after it


# The stamp on its own (SQLite; or when the request's transaction that stamped it did not commit), built once: a
# statement built anew each time costs more Python than its round trip.
_STAMP = (sa.update(ApiToken)
          .where(ApiToken.id == sa.bindparam("token_id"),
                 sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < sa.bindparam("stale_before")))
          .values(last_used_at=sa.bindparam("now"))
          .execution_options(prepared=True))


#: the columns of the lookup, before those of a statement read along with it
_ACCOUNT_WIDTH = _GRANT_AT.stop
_along: dict[int, tuple[sa.Select, sa.Select]] = {}


def _with_account(statement: sa.Select) -> sa.Select:
    """The stamping lookup with `statement` alongside, in one statement: its rows follow the account's columns
    (one row per role and row of `statement`; nulls where `statement` has no rows). Where `statement` names
    `actor_id`, the account's id stands. Built once per statement."""
    known = _along.get(id(statement))
    if known is not None and known[0] is statement:
        return known[1]
    # Executed by SQLAlchemy (prepared statements off), a value whose name is a column of api_tokens would be taken
    # as a new value for that column by the stamp's UPDATE.
    clash = set(statement.compile().binds) & set(ApiToken.__table__.c.keys())
    if clash:
        raise ValueError(f"a statement read along with the token lookup may not name {sorted(clash)}")
    account = _TOKEN_WITH_ACCOUNT_STAMPING.order_by(None).subquery("account")
    along = sa.sql.visitors.replacement_traverse(
        statement.order_by(None), {},
        lambda element: account.c.id if isinstance(element, sa.BindParameter) and element.key == "actor_id" else None,
    ).lateral("along")
    combined = (sa.select(account, along).select_from(account.outerjoin(along, sa.true()))
                .execution_options(prepared=True))
    _along[id(statement)] = (statement, combined)
    return combined


def authenticate_request(along: tuple[sa.Select, dict] | None = None) -> User:
    """The account behind the request's bearer token, with its roles (which permission checks read), or
    Unauthenticated.

    `along`: a statement and its values (`actor_id` excepted) that the operation will run first; on PostgreSQL its
    rows come in the same round trip as the account and are kept for the operation (db.take_read_ahead). The
    statement's first column must never be null (an id): a row of nulls there means it found nothing. Its rows come
    in no particular order."""
    if "api_user" in g:
        return g.api_user
    token = bearer_token()
    if token is None:
        raise Unauthenticated()
    connection = core_connection()
    stamping = connection.dialect.name == "postgresql"
    now = utcnow()
    stale_before = now - LAST_USED_RESOLUTION
    if stamping:
        params = {"hashed_token": hash_token(token), "now": now, "stale_before": stale_before}
        if along is None:
            rows = run_prepared(_TOKEN_WITH_ACCOUNT_STAMPING, params, connection)
        else:
            rows = run_prepared(_with_account(along[0]), {**along[1], **params}, connection)
    else:
        along = None
        rows = run_prepared(_TOKEN_WITH_ACCOUNT, {"hashed_token": hash_token(token)}, connection)
    if not rows:
        raise Unauthenticated()
    token_id, last_used_at = rows[0][0], rows[0][1]  # as it was before this request
    if last_used_at is None or last_used_at < stale_before:
        if stamping:
            session = db.session()
            session.info[_STAMPED_IN] = (token_id, session.get_transaction())
        else:
            g.api_token_touch = token_id
    g.api_token_id = token_id
    user = as_loaded(User, dict(zip(_USER_KEYS, rows[0][_USERS_AT], strict=True)))
    if "grants" not in user.__dict__:
        grants = {row[_GRANT_AT.start]: row[_GRANT_AT] for row in rows if row[_GRANT_AT.start] is not None}
        set_committed_value(user, "grants", [as_loaded(RoleGrant, dict(zip(_GRANT_KEYS, grants[key], strict=True)))
                                             for key in sorted(grants)])
    if along is not None:
        first_grant = rows[0][_GRANT_AT.start]  # each row of the statement comes once per role: take one role's
        found = [row[_ACCOUNT_WIDTH:] for row in rows if row[_GRANT_AT.start] == first_grant]
        keep_read_ahead(along[0], {**along[1], "actor_id": user.id}, found if found[0][0] is not None else [])
    g.api_user = user
    return user


def touch_last_used() -> None:
    """After the request's own work: stamp the token's last use (at most once a minute) where the lookup's own stamp
    did not commit with that work (PostgreSQL, a request that failed), or could not be made (SQLite), in its own
    small write.

    PostgreSQL takes it as one statement on a connection in autocommit mode: one round trip, where a transaction of
    its own costs three (BEGIN, UPDATE, COMMIT); and it commits without waiting for the log's flush, which would
    double its cost (a stamp lost in a crash harms nothing). (A session bound to one connection, as in the tests,
    keeps to its transaction.)
    """
    token_id = g.pop("api_token_touch", None)
    stamped = db.session().info.pop(_STAMPED_IN, None)
    if stamped is not None:
        token_id = stamped[0]  # stamped in the lookup, but that transaction did not commit: once more on its own
    if token_id is None:
        return
    # The request's own work is committed or rolled back by now; end whatever read remains, so that this
    # write begins its own transaction (on SQLite: BEGIN IMMEDIATE, not an upgrade of a reading one).
    db.session.rollback()
    now = utcnow()
    params = {"token_id": token_id, "stale_before": now - LAST_USED_RESOLUTION, "now": now}
    reset = write_intent.set(True)
    try:
        bind = db.session.get_bind()
        if isinstance(bind, sa.Engine) and bind.dialect.name == "postgresql":
            with bind.connect() as connection:
                _stamp_in_autocommit(connection, params)
        else:
            with unit_of_work() as session:
                session.execute(_STAMP, params)
    except (sa.exc.SQLAlchemyError, psycopg2.Error):
        # Only a convenience stamp: never fail a request that has already succeeded for it.
        pass
    finally:
        write_intent.reset(reset)


def _stamp_in_autocommit(connection: sa.Connection, params: dict) -> None:
    """The stamp on a pooled connection switched to autocommit and back by the driver's own flag.

    SQLAlchemy's AUTOCOMMIT isolation level, on giving the connection back, sets the isolation level explicitly,
    and psycopg2 then sends `SET default_transaction_isolation TO DEFAULT` each time autocommit is switched off
    again: a second round trip for every stamp. The flag alone costs none (the connection's isolation level is
    set once, when it is opened: config.engine_options)."""
    raw = connection.connection.dbapi_connection
    raw.autocommit = True
    try:
        write_unflushed(_STAMP, params, connection)  # a stamp lost in a crash harms nothing
    finally:
        if not raw.closed:
            raw.autocommit = False
