"""The audit viewer for administrators and coordinators (their communities only)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request
from flask_login import current_user

from childcare.accounts.models import Role, User
from childcare.accounts.permissions import managed_community_ids, role_required
from childcare.audit import queries
from childcare.db import db

bp = Blueprint("audit", __name__, url_prefix="/manage/audit")

PAGE = 100


@bp.get("/")
@role_required(Role.COORDINATOR, Role.ADMIN)
def entries():
    action = request.args.get("action", "").strip()[:80]
    before_id = request.args.get("before", type=int)
    items = queries.entries_for(community_ids=managed_community_ids(current_user), action_prefix=action,
                                limit=PAGE, before_id=before_id)
    actor_ids = {e.actor_id for e in items if e.actor_id}
    actors = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(actor_ids)))} if actor_ids else {}
    return render_template("audit/manage/entries.html", items=items, actors=actors, action=action,
                           next_before=items[-1].id if len(items) == PAGE else None)
