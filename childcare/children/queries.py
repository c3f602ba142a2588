"""Read side of children: always scoped to the guardian who asks, with a bounded number of queries."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from childcare.accounts.models import User
from childcare.children.models import Child, GuardianInvitation, Guardianship
from childcare.db import db, utcnow


def _mine(actor: User):
    return (sa.select(Child)
            .join(Guardianship, Guardianship.child_id == Child.id)
            .where(Guardianship.user_id == actor.id))


def children_of(actor: User) -> list[Child]:
    """The actor's children, oldest entry first, with their pickup persons (two queries, however many)."""
    if not getattr(actor, "id", None):
        return []
    query = _mine(actor).options(selectinload(Child.pickup_persons)).order_by(Child.created_at, Child.id)
    return list(db.session.scalars(query))


def get_child_for_guardian(actor: User, child_id: int) -> Child | None:
    """One of the actor's children with pickup persons and fellow guardians; None when not theirs."""
    if not getattr(actor, "id", None):
        return None
    query = _mine(actor).where(Child.id == child_id).options(
        selectinload(Child.pickup_persons),
        selectinload(Child.guardianships).joinedload(Guardianship.user),
    )
    return db.session.scalars(query).first()


def open_invitations_of(child: Child) -> list[GuardianInvitation]:
    """Invitations for a child (the caller has checked it is the reader's) still waiting for an answer."""
    return list(db.session.scalars(
        sa.select(GuardianInvitation)
        .where(GuardianInvitation.child_id == child.id, GuardianInvitation.accepted_at.is_(None),
               GuardianInvitation.declined_at.is_(None), GuardianInvitation.expires_at > utcnow())
        .order_by(GuardianInvitation.created_at, GuardianInvitation.id)))
