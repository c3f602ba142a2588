"""Daily update screens: the guardian's feed, a session's page where its staff post, and private photo files.

Every write opens one unit of work and calls one service; a refused rule comes back on the form or as a flash.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user

from childcare.db import unit_of_work, utcnow
from childcare.errors import DomainError, Forbidden, NotFound, attach_to_form
from childcare.i18n import to_local
from childcare.updates import photos, queries, services
from childcare.updates.forms import UpdateForm, WithdrawForm

bp = Blueprint("updates", __name__, url_prefix="/updates")

#: browsers may keep a photo this long; only the viewer's own browser (private), never a shared cache
PHOTO_MAX_AGE = 3600


@bp.get("/")
def show_feed():
    page = request.args.get("page", default=1, type=int) or 1
    feed = queries.feed_for_guardian(current_user, page=page)
    today = to_local(utcnow()).date()
    return render_template("updates/feed.html", feed=feed,
                           sessions=queries.sessions_to_post_for(current_user, today), today=today)


def _session_page(session_id: int, form: UpdateForm, status: int = 200):
    session, updates = queries.updates_for_staff(current_user, session_id)
    return render_template("updates/session.html", session=session, updates=updates, form=form,
                           without_consent=queries.children_without_photo_consent(session)), status


@bp.get("/sessions/<int:session_id>")
def show_session(session_id: int):
    return _session_page(session_id, UpdateForm(formdata=None))


@bp.post("/sessions/<int:session_id>")
def post(session_id: int):
    form = UpdateForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.post_update(actor=current_user, session_id=session_id, note=form.note.data,
                                     photos=form.uploads())
        except DomainError as error:
            if isinstance(error, Forbidden | NotFound):
                raise
            if not attach_to_form(form, error):
                flash(error.detail, "error")
        else:
            flash(_("Your update has been posted. The families can see it now."), "success")
            return redirect(url_for("updates.show_session", session_id=session_id))
    return _session_page(session_id, form, 422)


@bp.post("/<int:update_id>/withdraw")
def withdraw(update_id: int):
    form = WithdrawForm()
    if not form.validate_on_submit():
        flash(_("Your form expired. Please try again."), "error")
        return redirect(url_for("updates.show_feed"))
    with unit_of_work():
        update = services.withdraw_update(actor=current_user, update_id=update_id)
    flash(_("The update has been withdrawn. Families no longer see it."), "success")
    return redirect(url_for("updates.show_session", session_id=update.session_id))


@bp.get("/photos/<int:photo_id>")
def show_photo(photo_id: int) -> Response:
    photo = queries.photo_for_viewer(current_user, photo_id)
    response = send_from_directory(photos.upload_folder(), photo.storage_key, mimetype="image/jpeg",
                                   conditional=True, max_age=None)
    # A child's picture: the viewer's browser may keep it, a shared proxy may not.
    response.cache_control.no_cache = None
    response.cache_control.public = False
    response.cache_control.private = True
    response.cache_control.max_age = PHOTO_MAX_AGE
    response.vary.add("Cookie")
    return response
