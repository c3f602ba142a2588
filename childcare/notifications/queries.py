"""Read side of the inbox, always scoped to the reader."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from childcare.db import db
from childcare.notifications.models import Notification


def unread_count(user: Any) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Notification.id)).where(Notification.user_id == user.id,
                                                        Notification.read_at.is_(None))
    ) or 0


def inbox_of(user: Any, *, limit: int = 50, before_id: int | None = None) -> list[Notification]:
    query = sa.select(Notification).where(Notification.user_id == user.id)
    if before_id:
        query = query.where(Notification.id < before_id)
    return list(db.session.scalars(query.order_by(Notification.id.desc()).limit(limit)))
