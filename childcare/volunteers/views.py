"""Volunteer screens: the board (apply, claim, release, check in and out), my hours and certificate, and the
coordinator's applications, staffing and hours pages.

Every write opens one unit of work and calls one service; a refused rule comes back as a flash or on the form.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from childcare.accounts.models import Role, User
from childcare.accounts.permissions import can_manage_community, role_required
from childcare.accounts.services import masked_phone
from childcare.db import db, unit_of_work, utcnow
from childcare.errors import DomainError, flash_form_errors, refuse_on_form
from childcare.i18n import local_today, local_zone
from childcare.places.queries import all_communities
from childcare.security import back_to
from childcare.volunteers import queries, services
from childcare.volunteers.forms import (
    ApplyForm,
    AssignForm,
    CertificateForm,
    ConfirmForm,
    ConfirmTimesForm,
    CorrectionForm,
    DecideForm,
    RemoveForm,
)
from childcare.volunteers.models import ApplicationStatus, Shift

bp = Blueprint("volunteers", __name__, url_prefix="/volunteers")

MANAGERS = (Role.COORDINATOR, Role.ADMIN)










def _act(service, done: str, default: str, form=None, **kwargs):
    """Run one service for a button press in one unit of work; flash the outcome and go back."""
    form = form or ConfirmForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                service(actor=current_user, **kwargs)
        except DomainError as error:
            refuse_on_form(None, error)
        else:
            flash(done, "success")
    else:
        flash_form_errors(form)
    return redirect(back_to(default))


# ---- the volunteer's board --------------------------------------------------------------------------------------


def _apply_form(formdata=None) -> ApplyForm:
    form = ApplyForm(formdata=formdata) if formdata is not None else ApplyForm()
    taken = {a.community_id for a in queries.applications_of(current_user)
             if a.status in (ApplicationStatus.PENDING, ApplicationStatus.APPROVED)}
    form.community_id.choices = [SelectChoice(value=c.id, label=f"{c.street.name} · {c.name}")
                                 for c in all_communities() if c.id not in taken]
    return form


def _board_page(form: ApplyForm | None = None, status: int = 200):
    now = utcnow()
    board = queries.board_of(current_user, now)
    return render_template("volunteers/board.html", board=board, applications=queries.applications_of(current_user),
                           form=form or _apply_form(), now=now, today=local_today(),
                           claim_until=queries.claim_until), status


@bp.get("/")
def board():
    return _board_page()


@bp.post("/apply")
def apply():
    form = _apply_form(request.form)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                application = services.apply(actor=current_user, community_id=form.community_id.data,
                                             kind=form.kind.data, organisation=form.organisation.data or "",
                                             skills=form.skills.data or "", availability=form.availability.data or "")
                approved = application.status == ApplicationStatus.APPROVED
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("You are already a volunteer there.") if approved
                  else _("Thank you! The community will look at your application soon."), "success")
            return redirect(url_for("volunteers.board"))
    return _board_page(form, 422)


@bp.post("/sessions/<int:session_id>/claim")
def claim(session_id: int):
    return _act(services.claim, _("The post is yours. Thank you!"), url_for("volunteers.board"),
                session_id=session_id)


@bp.post("/shifts/<int:shift_id>/release")
def release(shift_id: int):
    return _act(services.release, _("You have given up the post."), url_for("volunteers.board"), shift_id=shift_id)


@bp.post("/shifts/<int:shift_id>/check-in")
def check_in(shift_id: int):
    return _act(services.check_in, _("Checked in. Have a good session!"), url_for("volunteers.board"),
                shift_id=shift_id)


@bp.post("/shifts/<int:shift_id>/check-out")
def check_out(shift_id: int):
    return _act(services.check_out, _("Checked out. Your hours are recorded. Thank you!"),
                url_for("volunteers.board"), shift_id=shift_id)


# ---- my hours and certificate -----------------------------------------------------------------------------------


@bp.get("/hours")
def hours():
    lines = queries.hours_lines(current_user.id)
    return render_template("volunteers/hours.html", lines=lines, totals=queries.totals_of(lines),
                           form=CertificateForm(formdata=None, start=date(local_today().year, 1, 1), end=local_today()))


@bp.get("/hours/certificate")
def certificate():
    form = CertificateForm(formdata=request.args)
    form.validate()
    today = local_today()
    start = (form.start.data if not form.start.errors else None) or date(today.year, 1, 1)
    end = (form.end.data if not form.end.errors else None) or today
    if end < start:
        start, end = end, start
    lines = queries.hours_lines(current_user.id, start=start, end=end)
    return render_template("volunteers/certificate.html", lines=lines, totals=queries.totals_of(lines), start=start,
                           end=end, issued_on=today, phone=masked_phone(current_user.phone))


# ---- coordinators: applications ---------------------------------------------------------------------------------


@bp.get("/manage/")
@role_required(*MANAGERS)
def manage():
    volunteers = queries.approved_volunteers(current_user)
    communities = {c.id: c for c in all_communities() if c.id in volunteers}
    return render_template("volunteers/manage/applications.html",
                           applications=queries.applications_to_decide(current_user),
                           volunteers=volunteers, communities=communities, form=DecideForm())


@bp.post("/manage/applications/<int:application_id>/decide")
@role_required(*MANAGERS)
def decide(application_id: int):
    form = DecideForm()
    approve = form.decision.data == "approve"
    done = _("The application is approved.") if approve else _("The application is declined.")
    return _act(services.decide, done, url_for("volunteers.manage"), form=form, application_id=application_id,
                approve=approve, note=form.note.data or "")


# ---- coordinators: staffing -------------------------------------------------------------------------------------


@bp.get("/manage/staffing")
@role_required(*MANAGERS)
def staffing():
    now = utcnow()
    rows = queries.staffing_page(current_user, now)
    rows.sort(key=lambda r: (not (r.staffing.understaffed and r.session.starts_at > now), r.session.starts_at))
    return render_template("volunteers/manage/staffing.html", rows=rows, now=now,
                           volunteers=queries.approved_volunteers(current_user),
                           to_confirm=queries.shifts_to_confirm(current_user, now))


@bp.post("/manage/sessions/<int:session_id>/assign")
@role_required(*MANAGERS)
def assign(session_id: int):
    form = AssignForm()
    return _act(services.assign, _("The volunteer has the post and has been told."), url_for("volunteers.staffing"),
                form=form, session_id=session_id, volunteer_id=form.volunteer_id.data)


@bp.post("/manage/shifts/<int:shift_id>/remove")
@role_required(*MANAGERS)
def remove(shift_id: int):
    form = RemoveForm()
    return _act(services.remove, _("The post has been taken away and the volunteer told."),
                url_for("volunteers.staffing"), form=form, shift_id=shift_id, reason=form.reason.data or "")


@bp.post("/manage/shifts/<int:shift_id>/confirm")
@role_required(*MANAGERS)
def confirm_times(shift_id: int):
    form = ConfirmTimesForm()
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        abort(404)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back_to(url_for("volunteers.staffing")))
    day = shift.session.on_date
    arrived = datetime.combine(day, form.arrived.data, tzinfo=local_zone())
    left = datetime.combine(day, form.left.data, tzinfo=local_zone())
    if left <= arrived:
        left += timedelta(days=1)  # a session that runs past midnight
    return _act(services.confirm_times, _("The times are confirmed and the hours recorded."),
                url_for("volunteers.staffing"), form=form, shift_id=shift_id, checked_in_at=arrived,
                checked_out_at=left)


# ---- coordinators: a volunteer's hours --------------------------------------------------------------------------


def _volunteer_in_my_communities(user_id: int) -> tuple[User, list]:
    """The volunteer and the communities (managed by the actor) where they are approved; else 404."""
    volunteer = db.session.get(User, user_id)
    mine = [c for c in all_communities()
            if can_manage_community(current_user, c.id) and volunteer is not None
            and c.id in queries.approved_community_ids(volunteer.id)]
    if volunteer is None or not mine:
        abort(404)
    return volunteer, mine


def _hours_page(user_id: int, form: CorrectionForm | None = None, status: int = 200):
    volunteer, communities = _volunteer_in_my_communities(user_id)
    lines = queries.hours_lines(volunteer.id, community_ids={c.id for c in communities})
    if form is None:
        form = CorrectionForm()
    form.community_id.choices = [SelectChoice(value=c.id, label=c.name) for c in communities]
    return render_template("volunteers/manage/hours.html", volunteer=volunteer, lines=lines,
                           totals=queries.totals_of(lines), form=form), status


@bp.get("/manage/volunteers/<int:user_id>/hours")
@role_required(*MANAGERS)
def manage_hours(user_id: int):
    return _hours_page(user_id)


@bp.post("/manage/volunteers/<int:user_id>/hours")
@role_required(*MANAGERS)
def correct_hours(user_id: int):
    form = CorrectionForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.correct_hours(actor=current_user, volunteer_id=user_id, community_id=form.community_id.data,
                                       minutes=form.minutes.data, reason=form.reason.data or "",
                                       served_on=form.served_on.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("The correction is recorded."), "success")
            return redirect(url_for("volunteers.manage_hours", user_id=user_id))
    return _hours_page(user_id, form, 422)
