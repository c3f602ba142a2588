"""The paper fallback screens: the printable sign-in sheet, and the form that enters a completed sheet."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from childcare.attendance import paper
from childcare.attendance.models import PickupKind
from childcare.db import unit_of_work
from childcare.forms import parse_id
from childcare.i18n import to_local

paper_bp = Blueprint("attendance_paper", __name__, url_prefix="/attendance")


def _when(sheet: paper.Sheet) -> dict:
    return {"starts": to_local(sheet.session.starts_at), "ends": to_local(sheet.session.ends_at)}


@paper_bp.get("/sessions/<int:session_id>/sheet")
def print_sheet(session_id: int):
    """An A4 sign-in sheet to print in case phones or the network fail."""
    sheet = paper.sheet_for(actor=current_user, session_id=session_id)
    return render_template("attendance_paper/sheet.html", sheet=sheet, **_when(sheet))


def _pickup_value(row: paper.PaperRow) -> str:
    if row.pickup_kind == PickupKind.GUARDIAN:
        return f"guardian:{row.pickup_guardian_id}"
    if row.pickup_kind == PickupKind.PICKUP_PERSON:
        return f"person:{row.pickup_person_id}"
    return str(row.pickup_kind or "")


def _row_from_form(child_id: int) -> paper.PaperRow:
    """The shape of one row: strings as typed; the service decides whether they make sense."""
    prefix = f"row-{child_id}-"
    choice = request.form.get(prefix + "pickup", "").strip()
    kind, _sep, ident = choice.partition(":")
    row = paper.PaperRow(child_id=child_id, state=request.form.get(prefix + "state", "").strip(),
                         check_in=request.form.get(prefix + "check_in", "")[:10],
                         check_out=request.form.get(prefix + "check_out", "")[:10])
    if kind == "guardian":
        row.pickup_kind = PickupKind.GUARDIAN
        row.pickup_guardian_id = parse_id(ident)
    elif kind == "person":
        row.pickup_kind = PickupKind.PICKUP_PERSON
        row.pickup_person_id = parse_id(ident)
    elif kind:
        row.pickup_kind = kind[:20]
    return row


def _render_entry(sheet: paper.Sheet, rows: dict[int, paper.PaperRow], errors: dict[str, str], status: int = 200):
    values = {child_id: {"state": row.state, "check_in": row.check_in or "", "check_out": row.check_out or "",
                         "pickup": _pickup_value(row)} for child_id, row in rows.items()}
    return render_template("attendance_paper/enter.html", sheet=sheet, values=values, errors=errors,
                           **_when(sheet)), status


@paper_bp.route("/sessions/<int:session_id>/sheet/enter", methods=["GET", "POST"])
def enter_sheet(session_id: int):
    """Staff type in what the paper sheet says, row by row, after the session."""
    sheet = paper.sheet_for(actor=current_user, session_id=session_id)
    if request.method == "GET":
        return _render_entry(sheet, {}, {})
    rows = {line.child.id: _row_from_form(line.child.id) for line in sheet.lines}
    try:
        with unit_of_work():
            records = paper.enter_paper_sheet(actor=current_user, session_id=session_id, rows=list(rows.values()))
    except paper.PaperSheetInvalid as error:
        flash(error.detail, "error")
        errors = {row_error.field or "": row_error.detail for row_error in error.errors}
        return _render_entry(sheet, rows, errors, 422)
    if records:
        flash(ngettext("The paper sheet has been entered: %(num)d child updated.",
                       "The paper sheet has been entered: %(num)d children updated.", len(records)), "success")
    else:
        flash(_("Nothing was changed: every row was left as it is."), "info")
    return redirect(url_for("attendance_paper.enter_sheet", session_id=session_id))
