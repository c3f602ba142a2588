"""The bell: a person's inbox."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from childcare.db import unit_of_work
from childcare.notifications import queries, services
from childcare.notifications.kinds import render

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("/")
def inbox():
    before_id = request.args.get("before", type=int)
    items = queries.inbox_of(current_user, before_id=before_id)
    rendered = [(n, *render(n.kind, n.data)) for n in items]
    return render_template("notifications/inbox.html", items=rendered,
                           next_before=items[-1].id if len(items) == 50 else None)


@bp.post("/read")
def mark_read():
    ids = request.form.getlist("id", type=int) or None
    with unit_of_work():
        services.mark_read(actor=current_user, notification_ids=ids)
    return redirect(url_for("notifications.inbox"))
