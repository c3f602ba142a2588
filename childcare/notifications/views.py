"""The bell: a person's inbox."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from childcare.db import unit_of_work
from childcare.forms import parse_id
from childcare.notifications import queries, services
from childcare.notifications.kinds import render

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("/")
def inbox():
    before_id = parse_id(request.args.get("before"))  # beyond any id is no page: show the first
    items = queries.inbox_of(current_user, before_id=before_id)
    rendered = [(n, *render(n.kind, n.data)) for n in items]
    return render_template("notifications/inbox.html", items=rendered,
                           next_before=items[-1].id if len(items) == 50 else None)


@bp.post("/read")
def mark_read():
    ids = [parse_id(value) for value in request.form.getlist("id")]
    if None in ids:
        # Dropping what is not an id would leave no ids, which means "mark them all read".
        flash(_("The request was not understood. Please check what you entered and try again."), "error")
        return redirect(url_for("notifications.inbox"))
    with unit_of_work():
        services.mark_read(actor=current_user, notification_ids=ids or None)
    return redirect(url_for("notifications.inbox"))
