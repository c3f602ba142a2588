"""Bearer tokens for the JSON API: issue, look up by hash, revoke, and the once-a-minute last-used stamp."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import g, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import contains_eager

from childcare.accounts.models import ApiToken, User
from childcare.audit.services import record
from childcare.db import db, unit_of_work, utcnow, write_intent
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


def authenticate_request() -> User:
    """The account behind the request's bearer token (one query, roles included), or Unauthenticated."""
    if "api_user" in g:
        return g.api_user
    token = bearer_token()
    if token is None:
        raise Unauthenticated()
    query = (sa.select(ApiToken).join(ApiToken.user)
             .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None), User.active.is_(True))
             .options(contains_eager(ApiToken.user).joinedload(User.grants)))
    # One round trip: the token, its account and the account's roles (which permission checks read).
    api_token = db.session.scalars(query).unique().first()
    if api_token is None:
        raise Unauthenticated()
    now = utcnow()
    if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_RESOLUTION:
        g.api_token_touch = api_token.id
    g.api_token_id = api_token.id
    g.api_user = api_token.user
    return api_token.user


def touch_last_used() -> None:
    """After the request's own work: stamp the token's last use, in its own small write (at most once a minute)."""
    token_id = g.pop("api_token_touch", None)
    if token_id is None:
        return
    # The request's own work is committed or rolled back by now; end whatever read remains, so that this
    # write begins its own transaction (on SQLite: BEGIN IMMEDIATE, not an upgrade of a reading one).
    db.session.rollback()
    now = utcnow()
    reset = write_intent.set(True)
    try:
        with unit_of_work() as session:
            session.execute(sa.update(ApiToken)
                            .where(ApiToken.id == token_id,
                                   sa.or_(ApiToken.last_used_at.is_(None),
                                          ApiToken.last_used_at < now - LAST_USED_RESOLUTION))
                            .values(last_used_at=now))
    except sa.exc.SQLAlchemyError:
        # Only a convenience stamp: never fail a request that has already succeeded for it.
        pass
    finally:
        write_intent.reset(reset)
