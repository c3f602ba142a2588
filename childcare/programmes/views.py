"""Coordinator screens: the programmes of their communities, their sessions, and the school calendar."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from childcare.accounts.models import Role
from childcare.accounts.permissions import managed_community_ids, role_required
from childcare.db import read_only, unit_of_work, utcnow
from childcare.errors import DomainError, refuse_on_form
from childcare.forms import parse_id
from childcare.i18n import local_zone, localdate, to_local
from childcare.places.queries import communities_by_ids
from childcare.programmes import queries, schedule, services
from childcare.programmes.forms import (
    WEEKDAY_NAMES,
    CalendarDayForm,
    NewProgrammeForm,
    ProgrammeForm,
    yuan_to_cents,
)
from childcare.programmes.models import Programme
from childcare.programmes.services import STAFFING_DEFAULTS

bp = Blueprint("programmes", __name__, url_prefix="/manage/programmes")

MANAGERS = (Role.COORDINATOR, Role.ADMIN)
#: service field names that the form shows under another name
FORM_FIELDS = {"fee_cents": "fee_yuan"}


def _refuse_on_form(form, error: DomainError) -> None:
    """Show a refused rule on its field; a refusal of access is no form error and answers 403 or 404."""
    if error.field in FORM_FIELDS:
        error.field = FORM_FIELDS[error.field]
    refuse_on_form(form, error)


def _naive_local(value: Any) -> Any:
    return to_local(value).replace(tzinfo=None) if value is not None else None


def _venue_choices(community_id: int | None = None) -> list[SelectChoice]:
    """The venues the actor may choose (those of one community, when given); the form's data selects one."""
    choices = [SelectChoice(value="", label=_("No venue yet"))]
    for venue in queries.managed_venues(current_user):
        if community_id is None or venue.community_id == community_id:
            choices.append(SelectChoice(value=venue.id, label=f"{venue.community.name} · {venue.name}"))
    return choices


def _programme_values(form: ProgrammeForm) -> dict[str, Any]:
    """The form's fields in the service's terms (registration times stay local; the service converts)."""
    return {
        "kind": form.kind.data, "title": form.title.data, "description": form.description.data,
        "themes": form.themes.data, "venue_id": form.venue_id.data, "mode": form.mode.data,
        "allocation": form.allocation.data, "promotion": form.promotion.data, "offer_hours": form.offer_hours.data,
        "needs_approval": form.needs_approval.data, "published": form.published.data,
        "starts_on": form.starts_on.data, "ends_on": form.ends_on.data, "weekdays": form.weekdays.data or [],
        "start_time": form.start_time.data, "end_time": form.end_time.data,
        "excluded_dates": form.excluded_dates.data or [], "min_age": form.min_age.data,
        "max_age": form.max_age.data, "min_grade": form.min_grade.data, "max_grade": form.max_grade.data,
        "fee_cents": yuan_to_cents(form.fee_yuan.data),
        "registration_opens_at": form.registration_opens_at.data,
        "registration_closes_at": form.registration_closes_at.data,
        "priority_groups": form.priority_group_names(),
        "previous_programme_id": form.previous_programme_id.data,
        "previous_unsuccessful_first": form.previous_unsuccessful_first.data,
        # Left empty, a staffing setting keeps its current value (or the default for a new programme).
        **{key: getattr(form, key).data for key in STAFFING_DEFAULTS if getattr(form, key).data is not None},
    }


def _initial(programme: Programme) -> dict[str, Any]:
    """A programme as the edit form shows it."""
    return {
        "kind": programme.kind, "title": programme.title, "description": programme.description,
        "themes": ", ".join(programme.theme_list), "venue_id": programme.venue_id, "mode": programme.mode,
        "allocation": programme.allocation, "promotion": programme.promotion, "offer_hours": programme.offer_hours,
        "needs_approval": programme.needs_approval, "published": programme.published,
        "starts_on": programme.starts_on, "ends_on": programme.ends_on, "weekdays": programme.weekday_list,
        "start_time": programme.start_time, "end_time": programme.end_time,
        "excluded_dates": [date.fromisoformat(d) for d in programme.excluded_dates or []],
        "min_age": programme.min_age, "max_age": programme.max_age, "min_grade": programme.min_grade,
        "max_grade": programme.max_grade, "fee_yuan": programme.fee_cents / 100 if programme.fee_cents else None,
        "registration_opens_at": _naive_local(programme.registration_opens_at),
        "registration_closes_at": _naive_local(programme.registration_closes_at),
        "priority_groups": "\n".join(group.name for group in programme.priority_groups),
        "previous_programme_id": programme.previous_programme_id,
        "previous_unsuccessful_first": programme.previous_unsuccessful_first,
        **{key: getattr(programme, key) for key in STAFFING_DEFAULTS},
    }


def _next_term(programme: Programme) -> dict[str, Any]:
    """A new term of a programme, as the form starts it: everything as before but the dates and the registration
    window, which a new term always has its own of, and the term it follows (so that a draw can favour the
    families who got no seat in it)."""
    values = _initial(programme)
    for key in ("starts_on", "ends_on", "excluded_dates", "registration_opens_at", "registration_closes_at"):
        values[key] = None
    return {**values, "community_id": programme.community_id, "capacity": programme.capacity,
            "previous_programme_id": programme.id, "published": True}


def _previous_term_choices(current: Programme | None = None) -> list[SelectChoice]:
    """Other programmes the actor runs, newest first; the form's data selects one."""
    choices = [SelectChoice(value="", label=_("None"))]
    for other in queries.managed_programmes(current_user):
        if current is None or (other.id != current.id and other.community_id == current.community_id):
            choices.append(SelectChoice(value=other.id, label=f"{other.community.name} · {other.title} "
                                                              f"({localdate(other.starts_on)})"))
    return choices


@bp.get("/")
@role_required(*MANAGERS)
def index():
    programmes = queries.managed_programmes(current_user)
    counts = queries.session_counts([p.id for p in programmes])
    return render_template("programmes/manage/index.html", programmes=programmes, counts=counts)


@bp.route("/new", methods=["GET", "POST"])
@role_required(*MANAGERS)
def create():
    earlier = None
    if request.method == "GET" and request.args.get("from"):
        earlier = services.get_programme_for_manager(actor=current_user,
                                                     programme_id=parse_id(request.args["from"]) or 0)
    form = NewProgrammeForm(data=_next_term(earlier)) if earlier is not None else NewProgrammeForm()
    form.previous_programme_id.choices = _previous_term_choices()
    communities = communities_by_ids(managed_community_ids(current_user))
    form.community_id.choices = [SelectChoice(value=c.id, label=f"{c.street.name} · {c.name}") for c in communities]
    if request.method == "GET" and len(communities) == 1 and earlier is None:
        form.community_id.data = communities[0].id
    form.venue_id.choices = _venue_choices()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                programme = services.create_programme(actor=current_user, community_id=form.community_id.data,
                                                      capacity=form.capacity.data, **_programme_values(form))
                warnings = services.schedule_warnings(programme)
        except DomainError as error:
            _refuse_on_form(form, error)
        else:
            flash(_("%(title)s has been created.", title=programme.title), "success")
            for warning in warnings:
                flash(warning, "error")
            return redirect(url_for("programmes.show", programme_id=programme.id))
    return render_template("programmes/manage/form.html", form=form, programme=None, weekday_names=WEEKDAY_NAMES)


@bp.get("/<int:programme_id>")
@role_required(*MANAGERS)
def show(programme_id: int):
    programme = services.get_programme_for_manager(actor=current_user, programme_id=programme_id)
    return render_template("programmes/manage/show.html", programme=programme,
                           sessions=queries.sessions_of(programme_id),
                           warnings=services.schedule_warnings(programme))


@bp.route("/<int:programme_id>/edit", methods=["GET", "POST"])
@role_required(*MANAGERS)
def edit(programme_id: int):
    programme = services.get_programme_for_manager(actor=current_user, programme_id=programme_id)
    form = ProgrammeForm(data=_initial(programme))
    form.venue_id.choices = _venue_choices(programme.community_id)
    form.previous_programme_id.choices = _previous_term_choices(programme)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.update_programme(actor=current_user, programme_id=programme_id, **_programme_values(form))
                warnings = services.schedule_warnings(programme)
        except DomainError as error:
            _refuse_on_form(form, error)
        else:
            flash(_("Your changes have been saved."), "success")
            for warning in warnings:
                flash(warning, "error")
            return redirect(url_for("programmes.show", programme_id=programme_id))
    return render_template("programmes/manage/form.html", form=form, programme=programme,
                           weekday_names=WEEKDAY_NAMES)


def _calendar_page(form: CalendarDayForm | None = None):
    today = utcnow().astimezone(local_zone()).date()
    year = request.args.get("year", type=int) or today.year
    year = min(max(year, 2000), 2100)
    with read_only():
        days = queries.calendar_days(date(year, 1, 1), date(year, 12, 31))
        unknown = schedule.unknown_years(date(min(year, today.year), 1, 1), date(max(year, today.year + 1), 12, 31))
    return render_template("programmes/manage/calendar.html", form=form or CalendarDayForm(formdata=None), days=days,
                           year=year, unknown=unknown, known=schedule.year_is_known(year),
                           changeable={day.id for day in days if services.may_change_calendar_day(current_user, day)})


@bp.get("/calendar")
@role_required(*MANAGERS)
def calendar():
    return _calendar_page()


@bp.post("/calendar")
@role_required(*MANAGERS)
def set_calendar_day():
    form = CalendarDayForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                day = services.set_calendar_day(actor=current_user, on_date=form.on_date.data,
                                                is_school_day=form.is_school_day.data, name=form.name.data)
        except DomainError as error:
            _refuse_on_form(form, error)
        else:
            flash(_("The school calendar has been updated."), "success")
            return redirect(url_for("programmes.calendar", year=day.on_date.year))
    return _calendar_page(form)


@bp.post("/calendar/<int:calendar_day_id>/delete")
@role_required(*MANAGERS)
def delete_calendar_day(calendar_day_id: int):
    with unit_of_work():
        services.delete_calendar_day(actor=current_user, calendar_day_id=calendar_day_id)
    flash(_("The entry has been removed; the date follows the official calendar again."), "success")
    return redirect(url_for("programmes.calendar", year=request.args.get("year", type=int)))
