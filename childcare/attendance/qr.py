"""QR check-in (码上办): a signed code per session that a guardian scans to check in their own children."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from childcare.accounts.models import User
from childcare.attendance import queries
from childcare.attendance.models import AttendanceRecord, AttendanceState, EventKind, EventSource
from childcare.attendance.services import apply_event
from childcare.children.models import Child, Guardianship
from childcare.db import db, utcnow
from childcare.errors import DomainError, NotFound
from childcare.programmes.models import ProgrammeSession
from childcare.volunteers.access import ensure_can_staff_session

SALT = "attendance-qr"
#: the code opens this long before the session starts, so families arriving early can check in
OPENS_BEFORE_START = timedelta(minutes=30)
#: an upper bound on a code's age; the session's own window is what really decides (checked at scan time)
MAX_TOKEN_AGE = timedelta(days=31)
#: states in which a child already counts as checked in: a repeated scan writes nothing
ALREADY_IN = frozenset({AttendanceState.PRESENT, AttendanceState.LATE, AttendanceState.CHECKED_OUT})


class InvalidCode(NotFound):
    """The code was not made by us (forged, mistyped) or names a session that no longer exists."""

    code = "invalid_code"
    default_message = _l("This code is not valid. Please scan the code on the poster again.")


class CodeNotValidNow(DomainError):
    """A real code, scanned outside its session's window (too early, after the end, or cancelled)."""

    status = 410
    code = "code_not_valid_now"
    default_message = _l("This code is not valid now. It works from 30 minutes before the session starts "
                         "until the session ends.")


class NotExpected(DomainError):
    """The child is the guardian's but holds no seat in this session."""

    status = 422
    code = "not_expected"
    default_message = _l("%(name)s is not expected in this session.")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(session: ProgrammeSession) -> str:
    """The signed code of one session; it carries the session id only."""
    return _serializer().dumps(session.id)


def scan_url(session: ProgrammeSession) -> str:
    """The absolute address a phone opens when it scans the session's code."""
    return url_for("attendance_qr.scan", token=make_token(session), _external=True)


def window_of(session: ProgrammeSession) -> tuple[datetime, datetime]:
    """When the session's code works: from 30 minutes before the start until the end."""
    return session.starts_at - OPENS_BEFORE_START, session.ends_at


def session_for_token(token: str, *, now: datetime | None = None) -> ProgrammeSession:
    """The session a scanned code names, if the code is ours and the session's window is open now."""
    try:
        session_id = _serializer().loads(token, max_age=int(MAX_TOKEN_AGE.total_seconds()))
    except SignatureExpired as error:
        # Genuine but old: say "not valid now" rather than "forged".
        raise CodeNotValidNow() from error
    except BadSignature as error:
        raise InvalidCode() from error
    if not isinstance(session_id, int):
        raise InvalidCode()
    session = db.session.get(ProgrammeSession, session_id)
    if session is None:
        raise InvalidCode()
    # The token's age alone would let a code from this morning work all day: the session's window decides.
    opens, closes = window_of(session)
    now = now or utcnow()
    if session.cancelled or not opens <= now <= closes:
        raise CodeNotValidNow()
    return session


@dataclass(frozen=True)
class QrChild:
    """One of the scanning guardian's children expected in the session, with where they stand."""

    child: Child
    state: AttendanceState
    checked_in_at: datetime | None

    @property
    def checked_in(self) -> bool:
        return self.state in ALREADY_IN


@dataclass(frozen=True)
class QrPage:
    """What a guardian sees after scanning: the session and their children expected in it."""

    session: ProgrammeSession
    children: list[QrChild]


def _guardian_child_ids(actor: User) -> set[int]:
    return set(db.session.scalars(sa.select(Guardianship.child_id).where(Guardianship.user_id == actor.id)))


def _expected_lines(session: ProgrammeSession) -> dict[int, queries.RosterLine]:
    """The session's roster (one definition of 'expected', owned by attendance.queries), by child id."""
    return {line.child.id: line for line in queries.expected_children(session)}


def qr_page(*, actor: User, token: str) -> QrPage:
    """Read side of a scan: only the scanning guardian's own children who are expected in that session."""
    session = session_for_token(token)
    mine = _guardian_child_ids(actor)
    children = [QrChild(child=line.child, state=line.state,
                        checked_in_at=line.record.checked_in_at if line.record else None)
                for child_id, line in _expected_lines(session).items() if child_id in mine]
    return QrPage(session=session, children=children)


def staff_qr(*, actor: User, session_id: int) -> tuple[ProgrammeSession, str]:
    """The session and the address its code opens, for the staff of that session only."""
    session = ensure_can_staff_session(actor, session_id)
    return session, scan_url(session)


def check_in_by_qr(*, actor: User, token: str, child_ids: Sequence[int]) -> list[AttendanceRecord]:
    """A guardian checks in their own children, expected in the code's session; a repeated scan writes nothing."""
    session = session_for_token(token)
    wanted = list(dict.fromkeys(int(child_id) for child_id in child_ids))
    if not wanted:
        raise DomainError(_l("Choose a child to check in."), field="child_ids", code="no_child")
    mine = _guardian_child_ids(actor)
    # Every child is checked before anything is written: one wrong child refuses the whole scan.
    children: list[Child] = []
    for child_id in wanted:
        child = db.session.get(Child, child_id)
        if child is None or child_id not in mine:
            raise NotFound()
        children.append(child)
    expected = _expected_lines(session)
    for child in children:
        if child.id not in expected:
            raise NotExpected(name=child.name)
    result: list[AttendanceRecord] = []
    for child in children:
        record = expected[child.id].record
        if record is not None and record.state in ALREADY_IN:
            result.append(record)  # scanned twice: the first check-in stands, no second event
            continue
        result.append(apply_event(actor=actor, session=session, child=child, kind=EventKind.CHECKED_IN,
                                  source=EventSource.QR))
    return result
