"""Who may see a session's children: its volunteers (a held shift) and its community's coordinators."""

from __future__ import annotations

import sqlalchemy as sa

from childcare.accounts.models import User
from childcare.accounts.permissions import can_manage_community
from childcare.db import db
from childcare.errors import NotFound
from childcare.programmes.models import Programme, ProgrammeSession
from childcare.volunteers.models import Shift, ShiftStatus


def serves_session(actor: User, session_id: int) -> bool:
    """True when the actor holds a post (a live shift) in the session."""
    return db.session.scalar(
        sa.select(sa.func.count(Shift.id)).where(Shift.session_id == session_id, Shift.volunteer_id == actor.id,
                                                 Shift.status == ShiftStatus.HELD)
    ) > 0


def can_staff_session(actor: User, session: ProgrammeSession) -> bool:
    """A session's volunteers and its community's coordinators (and administrators) may staff it."""
    community_id = db.session.scalar(sa.select(Programme.community_id).where(Programme.id == session.programme_id))
    return can_manage_community(actor, community_id) or serves_session(actor, session.id)


def ensure_can_staff_session(actor: User, session_id: int) -> ProgrammeSession:
    """The session, if the actor staffs it; otherwise 'not found', as if it did not exist."""
    session = db.session.get(ProgrammeSession, session_id)
    if session is None or not can_staff_session(actor, session):
        raise NotFound()
    return session


def sessions_served_by(actor: User) -> sa.Select:
    """A subquery of the session ids where the actor holds a post (for scoping list queries)."""
    return sa.select(Shift.session_id).where(Shift.volunteer_id == actor.id, Shift.status == ShiftStatus.HELD)
