"""Read side of the audit trail, scoped to what the reader manages."""

from __future__ import annotations

import sqlalchemy as sa

from childcare.audit.models import AuditEntry
from childcare.db import db


def entries_for(*, community_ids: set[int] | None, action_prefix: str = "", limit: int = 100,
                before_id: int | None = None) -> list[AuditEntry]:
    """Newest first. None = every community (administrators); a set limits a coordinator."""
    query = sa.select(AuditEntry)
    if community_ids is not None:
        query = query.where(AuditEntry.community_id.in_(community_ids or {-1}))
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
