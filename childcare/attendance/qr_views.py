"""QR check-in screens: the session's code for staff (on screen and as a poster), and the guardian's scan page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from childcare.attendance import qr
from childcare.db import unit_of_work
from childcare.errors import DomainError, NotFound
from childcare.forms import parse_id
from childcare.i18n import to_local
from childcare.qr_codes import qr_svg

qr_bp = Blueprint("attendance_qr", __name__, url_prefix="/attendance")


def _code_context(session_id: int, *, scale: int) -> dict:
    session, url = qr.staff_qr(actor=current_user, session_id=session_id)
    opens, closes = qr.window_of(session)
    return {"session": session, "programme": session.programme, "url": url, "svg": qr_svg(url, scale=scale),
            "opens": to_local(opens), "closes": to_local(closes), "starts": to_local(session.starts_at),
            "ends": to_local(session.ends_at)}


@qr_bp.get("/sessions/<int:session_id>/qr")
def show_code(session_id: int):
    """The session's code, large, for staff to hold up at the door."""
    return render_template("attendance_qr/code.html", **_code_context(session_id, scale=10))


@qr_bp.get("/sessions/<int:session_id>/qr/poster")
def print_poster(session_id: int):
    """An A4 poster of the session's code to print and pin up at the entrance."""
    return render_template("attendance_qr/poster.html", **_code_context(session_id, scale=12))


def _not_valid(error: DomainError):
    """A forged code answers like a missing page; a real code out of its window says so plainly."""
    invalid = isinstance(error, NotFound)
    return render_template("attendance_qr/not_valid.html", invalid=invalid, detail=error.detail), error.status


@qr_bp.get("/qr/<token>")
def scan(token: str):
    """What a guardian's phone opens: their own children expected in the session, each with a button."""
    try:
        page = qr.qr_page(actor=current_user, token=token)
    except (qr.InvalidCode, qr.CodeNotValidNow) as error:
        return _not_valid(error)
    session = page.session
    return render_template("attendance_qr/scan.html", token=token, page=page, session=session,
                           programme=session.programme, starts=to_local(session.starts_at),
                           ends=to_local(session.ends_at), to_local=to_local)


@qr_bp.post("/qr/<token>")
def check_in(token: str):
    """Check in the children whose buttons were pressed; a repeated press is answered kindly."""
    child_ids = [parse_id(value) for value in request.form.getlist("child_ids")]
    if None in child_ids:
        raise NotFound()
    try:
        with unit_of_work():
            records = qr.check_in_by_qr(actor=current_user, token=token, child_ids=child_ids)
    except (qr.InvalidCode, qr.CodeNotValidNow) as error:
        return _not_valid(error)
    except NotFound:
        raise
    except DomainError as error:
        flash(error.detail, "error")
        return redirect(url_for("attendance_qr.scan", token=token))
    for record in records:
        at = to_local(record.checked_in_at).strftime("%H:%M") if record.checked_in_at else ""
        flash(_("%(name)s is checked in (%(time)s). Thank you!", name=record.child.name, time=at), "success")
    return redirect(url_for("attendance_qr.scan", token=token))
