"""Read side of daily updates: a guardian's feed, a session's updates for its staff, who may see a photo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from childcare.accounts.models import User
from childcare.accounts.permissions import managed_community_ids
from childcare.children.models import Child, Guardianship
from childcare.db import db
from childcare.enrolment.models import SEAT_HOLDING, Enrolment
from childcare.errors import NotFound
from childcare.programmes.models import Programme, ProgrammeSession
from childcare.updates.models import DailyUpdate, UpdatePhoto
from childcare.volunteers.access import can_staff_session, ensure_can_staff_session, sessions_served_by

#: updates on one page of the guardian's feed
PAGE_SIZE = 20
#: the staff page lists at most this many updates of one session
SESSION_LIMIT = 100


def covers_session(session_id, programme_id) -> sa.ColumnElement[bool]:
    """Enrolments that give a seat in the session: whole mode the programme's, day mode the session's own."""
    return sa.and_(
        Enrolment.status.in_(SEAT_HOLDING),
        sa.or_(Enrolment.session_id == session_id,
               sa.and_(Enrolment.session_id.is_(None), Enrolment.programme_id == programme_id)),
    )


def _children_of(actor: User) -> sa.Select:
    return sa.select(Guardianship.child_id).where(Guardianship.user_id == actor.id)


def _guardian_sees(actor: User) -> sa.ColumnElement[bool]:
    """Correlated: one of the actor's children holds a seat in the update's session (joined as ProgrammeSession)."""
    return sa.exists().where(Enrolment.child_id.in_(_children_of(actor)),
                             covers_session(ProgrammeSession.id, ProgrammeSession.programme_id))


@dataclass(frozen=True)
class FeedPage:
    """One page of the feed, newest first."""

    items: list[DailyUpdate]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _with_details(query: sa.Select) -> sa.Select:
    # Photos in one extra SELECT … IN for the whole page, never one query per update.
    return query.options(joinedload(DailyUpdate.session).joinedload(ProgrammeSession.programme),
                         joinedload(DailyUpdate.author), selectinload(DailyUpdate.photos))


def feed_for_guardian(actor: User, *, page: int = 1, per_page: int = PAGE_SIZE) -> FeedPage:
    """Live updates of the sessions the actor's children hold a seat in, newest first, a page at a time."""
    page = max(1, page)
    query = (sa.select(DailyUpdate)
             .join(ProgrammeSession, ProgrammeSession.id == DailyUpdate.session_id)
             .where(DailyUpdate.withdrawn_at.is_(None), _guardian_sees(actor))
             .order_by(DailyUpdate.created_at.desc(), DailyUpdate.id.desc())
             .limit(per_page + 1).offset((page - 1) * per_page))
    rows = list(db.session.scalars(_with_details(query)).unique())
    return FeedPage(rows[:per_page], page, len(rows) > per_page)


def updates_for_staff(actor: User, session_id: int) -> tuple[ProgrammeSession, list[DailyUpdate]]:
    """A session and its updates (withdrawn ones too, for the record) for those who staff it; else NotFound."""
    session = ensure_can_staff_session(actor, session_id)
    query = (sa.select(DailyUpdate).where(DailyUpdate.session_id == session.id)
             .order_by(DailyUpdate.created_at.desc(), DailyUpdate.id.desc()).limit(SESSION_LIMIT))
    return session, list(db.session.scalars(_with_details(query)).unique())


def children_without_photo_consent(session: ProgrammeSession) -> list[Child]:
    """Children holding a seat in the session whose guardians did not allow photos, by name."""
    query = (sa.select(Child).where(
        Child.photo_consent.is_(False), Child.anonymised_at.is_(None),
        sa.exists().where(Enrolment.child_id == Child.id, covers_session(session.id, session.programme_id)))
        .order_by(Child.name, Child.id))
    return list(db.session.scalars(query))


def guardians_of_session(session: ProgrammeSession) -> list[User]:
    """Each guardian of a child holding a seat in the session, once, however many of their children attend."""
    children = sa.select(Enrolment.child_id).where(covers_session(session.id, session.programme_id))
    guardians = sa.select(Guardianship.user_id).where(Guardianship.child_id.in_(children))
    return list(db.session.scalars(sa.select(User).where(User.id.in_(guardians)).order_by(User.id)))


def sessions_to_post_for(actor: User, today: date, *, days_back: int = 7, limit: int = 20) -> list[ProgrammeSession]:
    """Recent sessions (and tomorrow's) the actor staffs: a held shift, or a community they coordinate."""
    staffed = ProgrammeSession.id.in_(sessions_served_by(actor))
    communities = managed_community_ids(actor)
    if communities is None:
        staffed = sa.true()
    elif communities:
        staffed = sa.or_(staffed, Programme.community_id.in_(communities))
    query = (sa.select(ProgrammeSession).join(Programme, Programme.id == ProgrammeSession.programme_id)
             .where(staffed, ProgrammeSession.cancelled.is_(False),
                    ProgrammeSession.on_date >= today - timedelta(days=days_back),
                    ProgrammeSession.on_date <= today + timedelta(days=1))
             .options(joinedload(ProgrammeSession.programme))
             .order_by(ProgrammeSession.starts_at.desc(), ProgrammeSession.id.desc()).limit(limit))
    return list(db.session.scalars(query))


def photo_for_viewer(actor: User, photo_id: int) -> UpdatePhoto:
    """A photo, if the actor may see it; anyone else is told it does not exist.

    Staff of the session (its volunteers, the community's coordinators, administrators) see every photo of it,
    withdrawn ones included; a guardian sees the photos of live updates of sessions a child of theirs holds a
    seat in.
    """
    photo = db.session.scalar(sa.select(UpdatePhoto).where(UpdatePhoto.id == photo_id)
                              .options(joinedload(UpdatePhoto.update).joinedload(DailyUpdate.session)))
    if photo is None:
        raise NotFound()
    update = photo.update
    if can_staff_session(actor, update.session):
        return photo
    if update.withdrawn_at is None:
        session = update.session
        seen = db.session.scalar(sa.select(sa.exists().where(
            Enrolment.child_id.in_(_children_of(actor)), covers_session(session.id, session.programme_id))))
        if seen:
            return photo
    raise NotFound()
