"""Read side of programmes: what a parent may see and what a coordinator manages, bounded in queries."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from childcare.accounts.models import User
from childcare.accounts.permissions import managed_community_ids
from childcare.db import db
from childcare.places.models import Venue
from childcare.programmes.models import CalendarDay, Programme, ProgrammeSession


def published_programmes(community_ids: list[int] | None = None, *,
                         with_priority_groups: bool = False) -> list[Programme]:
    """Published programmes, soonest first, with their venues loaded (two queries; three with the priority
    groups)."""
    query = (sa.select(Programme).where(Programme.published.is_(True))
             .options(selectinload(Programme.venue))
             .order_by(Programme.starts_on, Programme.id))
    if with_priority_groups:
        query = query.options(selectinload(Programme.priority_groups))
    if community_ids is not None:
        query = query.where(Programme.community_id.in_(community_ids))
    return list(db.session.scalars(query))


# ---- the coordinator's side: scoped by the communities the actor runs ----------------------------------------


def managed_programmes(actor: User) -> list[Programme]:
    """Programmes of the communities the actor runs (all for an administrator), newest first; three queries."""
    community_ids = managed_community_ids(actor)
    query = (sa.select(Programme)
             .options(selectinload(Programme.venue), selectinload(Programme.community))
             .order_by(Programme.starts_on.desc(), Programme.id.desc()))
    if community_ids is not None:
        query = query.where(Programme.community_id.in_(community_ids))
    return list(db.session.scalars(query))


def session_counts(programme_ids: list[int]) -> dict[int, int]:
    """Sessions that take place (not cancelled) per programme, in one query."""
    if not programme_ids:
        return {}
    query = (sa.select(ProgrammeSession.programme_id, sa.func.count(ProgrammeSession.id))
             .where(ProgrammeSession.programme_id.in_(programme_ids), ProgrammeSession.cancelled.is_(False))
             .group_by(ProgrammeSession.programme_id))
    return {row[0]: row[1] for row in db.session.execute(query)}


def sessions_of(programme_id: int) -> list[ProgrammeSession]:
    """A programme's sessions in time order, with their venues (two queries)."""
    query = (sa.select(ProgrammeSession).where(ProgrammeSession.programme_id == programme_id)
             .options(selectinload(ProgrammeSession.venue))
             .order_by(ProgrammeSession.starts_at, ProgrammeSession.id))
    return list(db.session.scalars(query))


def managed_venues(actor: User) -> list[Venue]:
    """Venues of the communities the actor runs, with their community, for choosing one."""
    community_ids = managed_community_ids(actor)
    query = sa.select(Venue).options(selectinload(Venue.community)).order_by(Venue.community_id, Venue.name)
    if community_ids is not None:
        query = query.where(Venue.community_id.in_(community_ids))
    return list(db.session.scalars(query))


def calendar_days(start: date, end: date) -> list[CalendarDay]:
    """The coordinators' calendar entries between two dates, in date order."""
    query = sa.select(CalendarDay).where(CalendarDay.on_date.between(start, end)).order_by(CalendarDay.on_date)
    return list(db.session.scalars(query))


def get_session(session_id: int) -> ProgrammeSession | None:
    """One session by id (the caller checks that the reader manages its programme)."""
    return db.session.get(ProgrammeSession, session_id)
