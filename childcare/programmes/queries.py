"""Read side of programmes: what a parent may see, bounded in queries."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from childcare.db import db
from childcare.programmes.models import Programme


def published_programmes(community_ids: list[int] | None = None) -> list[Programme]:
    """Published programmes, soonest first, with their venues loaded (two queries)."""
    query = (sa.select(Programme).where(Programme.published.is_(True))
             .options(selectinload(Programme.venue))
             .order_by(Programme.starts_on, Programme.id))
    if community_ids is not None:
        query = query.where(Programme.community_id.in_(community_ids))
    return list(db.session.scalars(query))
