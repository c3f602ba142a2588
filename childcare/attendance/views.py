"""The roster on a phone: today's sessions, check-in, absent, check-out to an authorised person, the event log.

Every action is a plain POST form that works without JavaScript (it answers with a redirect back to the row).
attendance.js sends the same forms with the header X-Requested-With: fetch; those requests are answered with
JSON carrying the row's new state and HTML, so the row updates in place. No route edits or deletes an event.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from childcare.accounts.permissions import can_manage_community
from childcare.accounts.services import masked_phone
from childcare.attendance import queries, services
from childcare.attendance.forms import ActionForm, CheckOutForm, CorrectForm
from childcare.attendance.models import AttendanceState, EventKind, EventSource
from childcare.db import db, read_only, unit_of_work
from childcare.errors import DomainError, Forbidden, InvalidInput, NotFound
from childcare.i18n import local_today
from childcare.programmes.models import Programme, ProgrammeSession
from childcare.volunteers.access import ensure_can_staff_session

bp = Blueprint("attendance", __name__, url_prefix="/attendance")

#: states a coordinator may set by hand, in the order the menu shows them
CORRECTABLE = tuple(AttendanceState)
EVENT_TITLES = {EventKind.CHECKED_IN: _l("Checked in"), EventKind.MARKED_ABSENT: _l("Marked absent"),
                EventKind.CHECKED_OUT: _l("Checked out"), EventKind.CORRECTED: _l("Corrected")}
SOURCE_TITLES = {EventSource.ROSTER: _l("Roster"), EventSource.QR: _l("QR code"), EventSource.PAPER: _l("Paper sheet"),
                 EventSource.API: _l("API")}




def _is_fetch() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _manages(session: ProgrammeSession) -> bool:
    programme = db.session.get(Programme, session.programme_id)
    return can_manage_community(current_user, programme.community_id)


def _row_context(session: ProgrammeSession) -> dict:
    return {"session": session, "manager": _manages(session), "correctable": CORRECTABLE,
            "masked_phone": masked_phone}


def _counts(lines: list[queries.RosterLine]) -> dict[AttendanceState, int]:
    counts = dict.fromkeys(AttendanceState, 0)
    for line in lines:
        counts[line.state] += 1
    return counts


@bp.get("/")
def index():
    day = local_today()
    sessions = queries.sessions_on(current_user, day)
    return render_template("attendance/index.html", sessions=sessions, day=day)


@bp.get("/sessions/<int:session_id>")
def roster(session_id: int):
    session = ensure_can_staff_session(current_user, session_id)
    lines = queries.expected_children(session)
    return render_template("attendance/roster.html", lines=lines, counts=_counts(lines), total=len(lines),
                           programme=session.programme, **_row_context(session))


@bp.get("/sessions/<int:session_id>/history")
def history(session_id: int):
    session = ensure_can_staff_session(current_user, session_id)
    if not _manages(session):
        raise NotFound()
    return render_template("attendance/history.html", session=session, programme=session.programme,
                           events=queries.session_events(session_id), event_titles=EVENT_TITLES,
                           source_titles=SOURCE_TITLES)


# ---- actions -------------------------------------------------------------------------------------------------------


def _back_to_row(session_id: int, child_id: int | None) -> Response:
    anchor = f"child-{child_id}" if child_id else None
    return redirect(url_for("attendance.roster", session_id=session_id, _anchor=anchor))


def _answer(session_id: int, child_id: int, message: str) -> Response:
    """The row's new state: JSON for attendance.js, else a redirect back to the row with a flash."""
    if not _is_fetch():
        flash(message, "success")
        return _back_to_row(session_id, child_id)
    with read_only():
        session = db.session.get(ProgrammeSession, session_id)
        lines = queries.expected_children(session)
        line = next((line for line in lines if line.child.id == child_id), None)
        if line is None:
            raise NotFound()
        html = render_template("attendance/_row.html", line=line, **_row_context(session))
        counts_html = render_template("attendance/_counts.html", counts=_counts(lines), total=len(lines))
    return jsonify({"ok": True, "child_id": child_id, "state": line.state.value, "state_title": line.state.title,
                    "message": message, "html": html, "counts_html": counts_html})


def _refuse(session_id: int, child_id: int | None, error: DomainError) -> Response | tuple:
    if isinstance(error, Forbidden | NotFound):
        raise error
    if _is_fetch():
        return jsonify({"ok": False, "code": error.code, "field": error.field, "detail": error.detail}), error.status
    flash(error.detail, "error")
    return _back_to_row(session_id, child_id)


def _form_error(form) -> InvalidInput:
    for name, messages in form.errors.items():
        if name == "csrf_token":
            return InvalidInput(_("Your form expired. Please reload the page and try again."), code="csrf")
        return InvalidInput(messages[0], field=name)
    return InvalidInput()


def _act(session_id: int, child_id: int | None, form, call: Callable[[], object], message: Callable[[object], str]):
    """Validate the form's shape, run one service in one unit of work, answer for the row."""
    if not form.validate_on_submit():
        return _refuse(session_id, child_id, _form_error(form))
    try:
        with unit_of_work():
            result = call()
    except DomainError as error:
        return _refuse(session_id, child_id, error)
    if child_id is None:
        flash(message(result), "success")
        return _back_to_row(session_id, None)
    return _answer(session_id, child_id, message(result))


@bp.post("/sessions/<int:session_id>/children/<int:child_id>/check-in")
def check_in(session_id: int, child_id: int):
    return _act(session_id, child_id, ActionForm(),
                lambda: services.check_in(actor=current_user, session_id=session_id, child_id=child_id),
                lambda record: _("Checked in (late).") if record.state == AttendanceState.LATE else _("Checked in."))


@bp.post("/sessions/<int:session_id>/children/<int:child_id>/absent")
def mark_absent(session_id: int, child_id: int):
    return _act(session_id, child_id, ActionForm(),
                lambda: services.mark_absent(actor=current_user, session_id=session_id, child_id=child_id),
                lambda record: _("Marked absent."))


@bp.post("/sessions/<int:session_id>/children/<int:child_id>/check-out")
def check_out(session_id: int, child_id: int):
    form = CheckOutForm()
    kind, guardian_id, person_id = form.parsed()

    def call():
        return services.check_out(actor=current_user, session_id=session_id, child_id=child_id, pickup_kind=kind,
                                  pickup_guardian_id=guardian_id, pickup_person_id=person_id,
                                  pickup_name=form.pickup_name.data or "",
                                  override_reason=form.override_reason.data or "")

    return _act(session_id, child_id, form, call,
                lambda record: _("Checked out: %(who)s.", who=record.picked_up_by) if record.picked_up_by
                else _("Checked out: went home alone."))


@bp.post("/sessions/<int:session_id>/children/<int:child_id>/correct")
def correct(session_id: int, child_id: int):
    form = CorrectForm()
    return _act(session_id, child_id, form,
                lambda: services.correct(actor=current_user, session_id=session_id, child_id=child_id,
                                         new_state=form.new_state.data, reason=form.reason.data or ""),
                lambda record: _("Corrected: %(state)s.", state=record.state.title))


@bp.post("/sessions/<int:session_id>/rest-absent")
def mark_rest_absent(session_id: int):
    return _act(session_id, None, ActionForm(),
                lambda: services.mark_rest_absent(actor=current_user, session_id=session_id),
                lambda count: ngettext("%(num)d child marked absent.", "%(num)d children marked absent.", count))
