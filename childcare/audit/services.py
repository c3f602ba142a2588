"""record(): every service writes its audit entry in the same transaction as its change."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request

from childcare.audit.models import AuditEntry
from childcare.db import db, utcnow


def _jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or isinstance(value, bool | int | float | str):
            out[key] = value
        elif isinstance(value, list | tuple | set):
            out[key] = [v if isinstance(v, bool | int | float | str) or v is None else str(v) for v in value]
        elif hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        else:
            out[key] = str(value)
    return out


def entry_values(*, actor: Any, action: str, obj: Any = None, object_type: str | None = None,
                 object_id: int | None = None, community_id: int | None = None,
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
                 reason: str = "") -> dict[str, Any]:
    """The column values of one audit entry (record() adds it to the session; bulk writers insert them)."""
    if obj is not None:
        object_type = object_type or getattr(obj, "__tablename__", type(obj).__name__.lower())
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
        if community_id is None:
            community_id = getattr(obj, "community_id", None)
    return {
        "at": utcnow(),
        "actor_id": getattr(actor, "id", None),
        "action": action,
        "object_type": object_type or "",
        "object_id": object_id,
        "community_id": community_id,
        "before": _jsonable(before),
        "after": _jsonable(after),
        "reason": reason or "",
        "ip": (request.remote_addr or "")[:45] if has_request_context() else "",
    }


def record(*, actor: Any, action: str, obj: Any = None, object_type: str | None = None,
           object_id: int | None = None, community_id: int | None = None,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           reason: str = "") -> AuditEntry:
    """Append one audit entry; flushed with the caller's change, committed by the boundary."""
    entry = AuditEntry(**entry_values(actor=actor, action=action, obj=obj, object_type=object_type,
                                      object_id=object_id, community_id=community_id, before=before, after=after,
                                      reason=reason))
    db.session.add(entry)
    return entry
