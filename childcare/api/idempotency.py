"""Idempotency-Key: the first answer to a keyed request is kept (≥ 24 h) and replayed for the same key and body.

The key is scoped to the account. The record is written in the same unit of work as the change it
answers for, so either both are kept or neither; two requests racing with one key meet at the
unique index (user_id, key), and the loser replays the winner's answer.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import request
from flask_babel import lazy_gettext as _l

from childcare.accounts.models import IdempotencyRecord, User
from childcare.db import db
from childcare.errors import DomainError

HEADER = "Idempotency-Key"
#: records are kept at least this long; an older record may be purged, then the key is new again
RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 200


class IdempotencyMismatch(DomainError):
    """The key was used before with another request."""

    code = "idempotency_mismatch"
    default_message = _l("This Idempotency-Key was already used with a different request.")


class KeyRaced(Exception):
    """Another request with the same key committed first; the caller replays its answer."""


def request_key() -> str | None:
    """The Idempotency-Key header, or None; an over-long key is refused."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise DomainError(_l("The Idempotency-Key header must have 1 to %(n)s characters."), field=HEADER,
                          code="invalid", n=MAX_KEY_LENGTH)
    return key


def fingerprint(payload: Any) -> str:
    """SHA-256 of method, path and the body's canonical JSON: key order and spacing do not matter."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def previous_answer(user: User, key: str, request_hash: str) -> tuple[int, dict] | None:
    """The stored answer for this key (the same request), None if the key is new, or IdempotencyMismatch."""
    stored = db.session.scalar(sa.select(IdempotencyRecord)
                               .where(IdempotencyRecord.user_id == user.id, IdempotencyRecord.key == key))
    if stored is None:
        return None
    if stored.request_hash != request_hash:
        raise IdempotencyMismatch(field=HEADER)
    return stored.status_code, stored.response_body


def remember(user: User, key: str, request_hash: str, status_code: int, body: dict) -> None:
    """Keep the answer with the change; KeyRaced if the same key was committed meanwhile."""
    stored = IdempotencyRecord(user_id=user.id, key=key, request_hash=request_hash, status_code=status_code,
                               response_body=body)
    try:
        with db.session.begin_nested():
            db.session.add(stored)
    except sa.exc.IntegrityError:
        raise KeyRaced() from None
