"""Read side of places: bounded queries for the public pages."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from childcare.db import db
from childcare.places.models import Community, District, Street, Venue


def districts_with_communities() -> list[District]:
    """The whole tree for the home page, in three queries however large it is."""
    query = (sa.select(District).order_by(District.name)
             .options(selectinload(District.streets).selectinload(Street.communities)))
    return list(db.session.scalars(query))


def all_communities() -> list[Community]:
    query = (sa.select(Community).join(Community.street).join(Street.district)
             .order_by(District.name, Street.name, Community.name)
             .options(selectinload(Community.street).selectinload(Street.district)))
    return list(db.session.scalars(query))


def communities_by_ids(ids: set[int] | None) -> list[Community]:
    """The given communities (None: all of them), with street and district loaded."""
    if ids is None:
        return all_communities()
    return [c for c in all_communities() if c.id in ids]


def get_community(community_id: int) -> Community | None:
    query = (sa.select(Community).where(Community.id == community_id)
             .options(selectinload(Community.street).selectinload(Street.district),
                      selectinload(Community.venues)))
    return db.session.scalar(query)


def venues_of(community_id: int) -> list[Venue]:
    return list(db.session.scalars(sa.select(Venue).where(Venue.community_id == community_id).order_by(Venue.name)))
