"""Enrolment screens: browse and enrol (public pages), my enrolments and schedule, and the coordinator's list.

Every write opens one unit of work and calls one service; a refused rule comes back on the form or as a flash.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.routing import BuildError
from wtforms import SelectChoice

from childcare.accounts.models import Role
from childcare.accounts.permissions import can_manage_community, ensure_manages_community, role_required
from childcare.children.models import Child
from childcare.children.queries import children_of
from childcare.db import db, unit_of_work, utcnow
from childcare.enrolment import draw, export, queries, services
from childcare.enrolment.forms import (
    BrowseForm,
    CancelForm,
    CapacityForm,
    ConfirmForm,
    DrawForm,
    EnrolForm,
    LeaveForm,
    PriorityGroupForm,
    RemoveForm,
)
from childcare.enrolment.models import LIVE, Enrolment, EnrolmentStatus
from childcare.enrolment.services_calendar import ensure_calendar_token, guardian_by_calendar_token, render_calendar
from childcare.errors import DomainError, NotFound, flash_form_errors, refuse_on_form
from childcare.i18n import local_today, localdate, to_local
from childcare.places.models import Community, Street
from childcare.places.queries import all_communities, venues_of
from childcare.programmes import services as programme_services
from childcare.programmes.forms import SessionForm
from childcare.programmes.models import (
    Allocation,
    EnrolmentMode,
    PriorityGroup,
    Programme,
    ProgrammeKind,
    ProgrammeSession,
)
from childcare.programmes.queries import published_programmes
from childcare.qr_codes import qr_svg
from childcare.security import back_to, public

bp = Blueprint("enrolment", __name__)

MANAGERS = (Role.COORDINATOR, Role.ADMIN)
#: "my schedule" shows this many days at a time (a phone screen's worth for a family with a daily class), and the
#: calendar feed looks this far back and ahead
SCHEDULE_DAYS = 14
FEED_PAST_DAYS = 30
FEED_DAYS = 366


# ---- finding programmes -------------------------------------------------------------------------------------------


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on a day."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _within(value: int | None, low: int | None, high: int | None) -> bool:
    """Unknown values fit; a missing limit does not limit."""
    return value is None or ((low is None or value >= low) and (high is None or value <= high))


def fits_child(programme: Programme, child: Child) -> bool:
    """The browse filter: age on the first day and grade within the programme's limits (unknown counts as fitting).

    Only a filter for the list; whether a child may enrol is decided by enrolment.services.
    """
    age = age_on(child.birth_date, programme.starts_on) if child.birth_date else None
    return (_within(age, programme.min_age, programme.max_age)
            and _within(child.grade, programme.min_grade, programme.max_grade))


def _url_if_exists(*endpoints: str) -> str | None:
    """The first of these pages that the app has (another feature's page may be named differently)."""
    for endpoint in endpoints:
        try:
            return url_for(endpoint)
        except BuildError:
            continue
    return None


def mask_name(name: str) -> str:
    """A child's name as published in a draw result: the first character, the rest hidden (张**)."""
    name = (name or "").strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else "*"


def _my_children() -> list[Child]:
    if not current_user.is_authenticated:
        return []
    return list(children_of(current_user))


@bp.get("/programmes/")
@public
def browse():
    form = BrowseForm(formdata=request.args)
    communities = all_communities()
    children = _my_children()
    form.community_id.choices = [SelectChoice(value="", label=_("All communities"))] + [
        SelectChoice(value=c.id, label=f"{c.street.name} · {c.name}") for c in communities]
    form.kind.choices = [SelectChoice(value="", label=_("All kinds"))] + [
        SelectChoice(value=k.value, label=k.title) for k in ProgrammeKind]
    form.child_id.choices = [SelectChoice(value="", label=_("Any child"))] + [
        SelectChoice(value=c.id, label=c.name) for c in children]
    form.validate()

    community_id = form.community_id.data if not form.community_id.errors else None
    kind = form.kind.data if form.kind.data in {k.value for k in ProgrammeKind} else None
    on_date = form.on_date.data if not form.on_date.errors else None
    child = next((c for c in children if c.id == form.child_id.data), None)

    today = local_today()
    programmes = []
    for programme in published_programmes([community_id] if community_id else None):
        if kind and programme.kind != kind:
            continue
        if on_date is not None and not programme.starts_on <= on_date <= programme.ends_on:
            continue
        if on_date is None and programme.ends_on < today:
            continue
        if child is not None and not fits_child(programme, child):
            continue
        programmes.append(programme)
    seats = queries.seat_summary([p.id for p in programmes]) if programmes else {}
    now = utcnow()
    return render_template("enrolment/browse.html", form=form, programmes=programmes, seats=seats,
                           registration={p.id: services.registration_at(p, now).value for p in programmes},
                           communities={c.id: c for c in communities}, has_children=bool(children),
                           filtered=bool(community_id or kind or on_date or child))


def _load_programme(programme_id: int) -> Programme:
    """The programme with its place and sessions, in three queries; unpublished ones only for their managers."""
    query = (sa.select(Programme).where(Programme.id == programme_id)
             .options(joinedload(Programme.venue),
                      joinedload(Programme.community).joinedload(Community.street).joinedload(Street.district),
                      selectinload(Programme.sessions).joinedload(ProgrammeSession.venue)))
    programme = db.session.scalar(query)
    if programme is None:
        abort(404)
    if not programme.published and not (current_user.is_authenticated
                                         and can_manage_community(current_user, programme.community_id)):
        abort(404)
    return programme


def _bookable_sessions(programme: Programme) -> list[ProgrammeSession]:
    now = utcnow()
    return [s for s in programme.sessions if not s.cancelled and s.starts_at > now]


def _session_label(session: ProgrammeSession, seats_left: int | None) -> str:
    # A word joiner after the dash: a phone wraps a long label after the date, never inside "08:30–11:30".
    when = (f"{localdate(session.on_date, 'full')} "
            f"{to_local(session.starts_at):%H:%M}\u2013\u2060{to_local(session.ends_at):%H:%M}")
    if seats_left is None:
        return when
    if seats_left <= 0:
        return _("%(when)s · full, waiting list", when=when)
    return _("%(when)s · %(num)d seats left", when=when, num=seats_left)


def _enrol_form(programme: Programme, children: list[Child], session_seats: dict, formdata=None) -> EnrolForm:
    form = EnrolForm(formdata=formdata) if formdata is not None else EnrolForm()
    form.child_ids.choices = [SelectChoice(value=c.id, label=c.name) for c in children]
    form.priority_group_id.choices = [("", _("None of these"))] + [
        (g.id, g.name) for g in sorted(programme.priority_groups, key=lambda g: g.rank)
    ] if programme.priority_groups else []
    if programme.mode == EnrolmentMode.DAY:
        form.session_ids.choices = [
            SelectChoice(value=s.id, label=_session_label(s, getattr(session_seats.get(s.id), "seats_left", None)))
            for s in _bookable_sessions(programme)]
    else:
        form.session_ids.choices = []
    return form


def _programme_page(programme: Programme, form: EnrolForm | None = None):
    """The public programme page; a logged-in guardian also sees the enrol form and their children's places."""
    seats = queries.seat_summary([programme.id]).get(programme.id)
    session_seats = {}
    if programme.mode == EnrolmentMode.DAY and programme.sessions:
        session_seats = queries.session_seat_summary([s.id for s in programme.sessions])
    children = _my_children()
    mine: list[Enrolment] = []
    if current_user.is_authenticated:
        mine = [e for e in queries.enrolments_of_guardian(current_user)
                if e.programme_id == programme.id and e.status in LIVE]
    # In whole-programme mode a child who holds a place here (or waits for one) has nothing more to sign up for.
    placed = {e.child_id for e in mine} if programme.mode == EnrolmentMode.WHOLE else set()
    to_sign_up = [c for c in children if c.id not in placed]
    if form is None and to_sign_up:
        form = _enrol_form(programme, to_sign_up, session_seats)
    elif form is not None:
        # Coming back with errors: refresh the seat counts shown beside each session.
        _enrol_form_labels(form, programme, session_seats)
    now = utcnow()
    return render_template("enrolment/programme.html", programme=programme, seats=seats, session_seats=session_seats,
                           form=form, children=children, mine=mine, now_served=now,
                           all_placed=bool(children) and not to_sign_up,
                           registration=services.registration_at(programme, now).value,
                           add_child_url=_url_if_exists("children.add"),
                           can_manage=current_user.is_authenticated and can_manage_community(
                               current_user, programme.community_id))


def _enrol_form_labels(form: EnrolForm, programme: Programme, session_seats: dict) -> None:
    if programme.mode == EnrolmentMode.DAY:
        form.session_ids.choices = [
            SelectChoice(value=s.id, label=_session_label(s, getattr(session_seats.get(s.id), "seats_left", None)))
            for s in _bookable_sessions(programme)]


@bp.get("/programmes/<int:programme_id>")
@public
def show_programme(programme_id: int):
    return _programme_page(_load_programme(programme_id))


def awaits_draw(programme: Programme) -> bool:
    """Before a draw, waiting applications have no order yet, so no position is shown."""
    return programme.allocation == Allocation.DRAW and programme.drawn_at is None


def _enrolled_message(enrolment: Enrolment, positions: dict[int, int]) -> str:
    name = enrolment.child.name
    if enrolment.session is not None:
        name = f"{name} ({localdate(enrolment.session.on_date)})"
    if enrolment.status == EnrolmentStatus.CONFIRMED:
        return _("%(name)s is enrolled.", name=name)
    if enrolment.status == EnrolmentStatus.PENDING:
        return _("%(name)s is enrolled and awaits the coordinator's approval.", name=name)
    if enrolment.status == EnrolmentStatus.WAITLISTED and awaits_draw(enrolment.programme):
        return _("%(name)s has applied; the draw decides who gets the seats.", name=name)
    if enrolment.status == EnrolmentStatus.WAITLISTED:
        position = positions.get(enrolment.id)
        if position:
            return _("%(name)s is on the waiting list at position %(position)d.", name=name, position=position)
        return _("%(name)s is on the waiting list.", name=name)
    return f"{name}: {enrolment.status.title}"


@bp.post("/programmes/<int:programme_id>/enrol")
def enrol(programme_id: int):
    programme = _load_programme(programme_id)
    children = _my_children()
    form = _enrol_form(programme, children, {}, formdata=request.form)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                enrolments = services.enrol(actor=current_user, programme_id=programme.id,
                                            child_ids=form.child_ids.data,
                                            session_ids=form.session_ids.data or None,
                                            all_or_none=form.all_or_none.data,
                                            priority_group_id=form.priority_group_id.data)
                positions = queries.positions_of(enrolments)
                messages = [_enrolled_message(e, positions) for e in enrolments]
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            for message in messages:
                flash(message, "success")
            return redirect(url_for("enrolment.list_enrolments"))
    return _programme_page(programme, form)


@bp.get("/programmes/<int:programme_id>/draw")
@public
def show_draw(programme_id: int):
    """The published draw (公示): each application's place, with all it takes to repeat the order from the seed."""
    programme = _load_programme(programme_id)
    ranked: list[tuple[ProgrammeSession | None, list[DrawLine]]] = []
    if programme.drawn_at is not None:
        query = (sa.select(Enrolment).where(Enrolment.programme_id == programme.id,
                                            Enrolment.draw_rank.is_not(None))
                 .options(joinedload(Enrolment.child), joinedload(Enrolment.session))
                 .order_by(Enrolment.session_id, Enrolment.draw_rank, Enrolment.id))
        applications = list(db.session.scalars(query))
        groups = {group.id: group for group in programme.priority_groups}
        previous = draw.previous_unsuccessful(programme, (e.child_id for e in applications))
        lines = [DrawLine(e, mask_name(e.child.name), groups.get(e.priority_group_id), e.child_id in previous,
                          draw.draw_key(programme.draw_seed, e.id)[:8]) for e in applications]
        # One order per session in day mode, one for the whole programme otherwise (the query's order).
        ranked = [(slot_lines[0].enrolment.session, slot_lines) for slot_lines in
                  ([*group] for _slot, group in itertools.groupby(lines, key=lambda line: line.enrolment.session_id))]
    return render_template("enrolment/draw.html", programme=programme, ranked=ranked)


class DrawLine(NamedTuple):
    """One application as the published draw shows it."""

    enrolment: Enrolment
    masked_name: str
    group: PriorityGroup | None
    no_seat_last_term: bool
    key: str  # the first characters of sha256(seed:application number)


# ---- my enrolments ------------------------------------------------------------------------------------------------


@bp.get("/enrolments/")
def list_enrolments():
    enrolments = list(queries.enrolments_of_guardian(current_user))
    live = [e for e in enrolments if e.status in LIVE]
    ended = [e for e in enrolments if e.status not in LIVE]
    return render_template("enrolment/mine.html", live=live, ended=ended, positions=queries.positions_of(live),
                           awaits_draw=awaits_draw,
                           now=utcnow())


def _guardian_action(action, enrolment_id: int, done: str, form=None, **kwargs):
    form = form or ConfirmForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                action(actor=current_user, enrolment_id=enrolment_id, **kwargs)
        except DomainError as error:
            refuse_on_form(None, error)
        else:
            flash(done, "success")
    else:
        flash_form_errors(form)
    return redirect(back_to(url_for("enrolment.list_enrolments")))


@bp.post("/enrolments/<int:enrolment_id>/cancel")
def cancel(enrolment_id: int):
    form = CancelForm()
    return _guardian_action(services.cancel, enrolment_id, _("The enrolment has been cancelled."), form=form,
                            reason=(form.reason.data or "").strip())


@bp.post("/enrolments/<int:enrolment_id>/accept")
def accept(enrolment_id: int):
    return _guardian_action(services.accept_offer, enrolment_id, _("You accepted the seat. See you in class!"))


@bp.post("/enrolments/<int:enrolment_id>/decline")
def decline(enrolment_id: int):
    return _guardian_action(services.decline_offer, enrolment_id,
                            _("You declined the seat; it goes to the next family."))


# ---- my schedule and leave ----------------------------------------------------------------------------------------


class ScheduledSession(NamedTuple):
    """One session on "my schedule", with each of the family's children who attend it (ScheduleEntry rows)."""

    session: ProgrammeSession
    entries: list[queries.ScheduleEntry]


def _schedule_start(value: str | None, today: date) -> date:
    """The first day "my schedule" shows: the `from` asked for (today when missing or not a date: an old or mistyped
    link still lands on the schedule)."""
    try:
        asked = date.fromisoformat(value) if value else None
    except ValueError:
        asked = None
    return queries.schedule_start(asked, today)


@bp.get("/schedule/")
def show_schedule():
    if not current_user.calendar_token:
        with unit_of_work():
            ensure_calendar_token(actor=current_user)
    today = local_today()
    start = _schedule_start(request.args.get("from"), today)
    end = start + timedelta(days=SCHEDULE_DAYS - 1)
    rows = queries.schedule_of_guardian(current_user, start, end)
    # Siblings in the same session share one card, each with their own leave.
    sessions: dict[int, ScheduledSession] = {}
    for row in rows:
        sessions.setdefault(row.session.id, ScheduledSession(row.session, [])).entries.append(row)
    days: dict[date, list[ScheduledSession]] = defaultdict(list)
    for scheduled in sessions.values():
        days[scheduled.session.on_date].append(scheduled)
    later = queries.next_schedule_date(current_user, after=end)
    earlier = None
    if start > today:  # back to the fortnight that ends with the last session before this one (from today on)
        last = queries.last_schedule_date(current_user, since=today, before=start)
        earlier = max(today, last - timedelta(days=SCHEDULE_DAYS - 1)) if last else None
    feed = url_for("enrolment.calendar_feed", token=current_user.calendar_token, _external=True)
    return render_template("enrolment/schedule.html", days=sorted(days.items()), feed=feed,
                           webcal="webcal://" + feed.split("://", 1)[1], now=utcnow(), today=today,
                           start=start, end=end, earlier=earlier, later=later,
                           in_wechat="MicroMessenger" in request.headers.get("User-Agent", ""))


@bp.post("/leave")
def request_leave():
    form = LeaveForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.request_leave(actor=current_user, child_id=form.child_id.data,
                                       session_ids=[form.session_id.data], reason=(form.reason.data or "").strip())
        except DomainError as error:
            refuse_on_form(None, error)
        else:
            flash(_("Leave has been requested. The class has been told."), "success")
            return _back_to_schedule(anchor=f"session-{form.session_id.data}")
    else:
        flash_form_errors(form)
    return _back_to_schedule()


@bp.post("/leave/<int:leave_id>/cancel")
def cancel_leave(leave_id: int):
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.cancel_leave(actor=current_user, leave_id=leave_id)
        except DomainError as error:
            refuse_on_form(None, error)
        else:
            flash(_("The leave has been withdrawn."), "success")
    else:
        flash_form_errors(form)
    return _back_to_schedule()


def _back_to_schedule(anchor: str | None = None) -> Response:
    """Back to the weeks of "my schedule" the form was sent from (its `from` field), not to this week's."""
    start = _schedule_start(request.form.get("from"), local_today())
    args = {"from": start.isoformat()} if start != local_today() else {}
    return redirect(url_for("enrolment.show_schedule", _anchor=anchor, **args))


@bp.get("/schedule/<token>.ics")
@public
def calendar_feed(token: str):
    user = guardian_by_calendar_token(token)
    if user is None:
        abort(404)
    start = local_today()
    rows = queries.schedule_of_guardian(user, start - timedelta(days=FEED_PAST_DAYS), start + timedelta(days=FEED_DAYS))
    with force_locale(user.locale or "zh_CN"):
        body = render_calendar(rows, name=_("Children's classes"))
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="schedule.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


# ---- coordinators -------------------------------------------------------------------------------------------------

STATUS_FILTERS = ("live", "all", *(s.value for s in EnrolmentStatus))


def _managed_programme(programme_id: int) -> Programme:
    programme = _load_programme(programme_id)
    ensure_manages_community(current_user, programme.community_id, hide=True)
    return programme


def _status_filter(value: str) -> tuple[str, list[EnrolmentStatus] | None]:
    if value not in STATUS_FILTERS or value == "live":
        return "live", sorted(LIVE, key=list(EnrolmentStatus).index)
    if value == "all":
        return "all", None
    return value, [EnrolmentStatus(value)]


def _manage_page(programme: Programme, *, capacity_form: CapacityForm | None = None,
                 remove_form: RemoveForm | None = None, remove_id: int | None = None,
                 draw_form: DrawForm | None = None):
    chosen, statuses = _status_filter(request.args.get("status", "live"))
    rows = queries.enrolments_for_manager(current_user, programme.id, statuses=statuses)
    seats = queries.seat_summary([programme.id]).get(programme.id)
    session_seats = {}
    if programme.mode == EnrolmentMode.DAY and programme.sessions:
        session_seats = queries.session_seat_summary([s.id for s in programme.sessions])
    capacity_form = capacity_form or CapacityForm(formdata=None, capacity=programme.capacity)
    capacity_form.session_id.choices = [SelectChoice(value="", label=_("The whole programme"))] + [
        SelectChoice(value=s.id, label=_session_label(s, None)) for s in programme.sessions if not s.cancelled
    ] if programme.mode == EnrolmentMode.DAY else []
    status_choices = [("live", _("Current (not ended)")), ("all", _("All, with history"))] + [
        (s.value, s.title) for s in EnrolmentStatus]  # rendered by hand: a GET filter, not a WTForm
    return render_template("enrolment/manage/enrolments.html", programme=programme, rows=rows, seats=seats,
                           session_seats=session_seats,
                           capacity_form=capacity_form, remove_form=remove_form, remove_id=remove_id,
                           draw_form=draw_form or DrawForm(formdata=None), status=chosen,
                           before_draw=awaits_draw(programme),
                           status_choices=status_choices)


@bp.get("/manage/programmes/<int:programme_id>/enrolments")
@role_required(*MANAGERS)
def manage_enrolments(programme_id: int):
    return _manage_page(_managed_programme(programme_id))


@bp.get("/manage/programmes/<int:programme_id>/enrolments.csv")
@role_required(*MANAGERS)
def export_enrolments(programme_id: int):
    programme = _managed_programme(programme_id)
    _chosen, statuses = _status_filter(request.args.get("status", "live"))
    rows = queries.enrolments_for_manager(current_user, programme.id, statuses=statuses)
    response = Response(export.enrolments_csv(programme, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="enrolments-{programme.id}.csv"'
    response.headers["Cache-Control"] = "private, no-store"  # children's names and their families' phones
    return response


@bp.get("/manage/programmes/<int:programme_id>/poster")
@role_required(*MANAGERS)
def sign_up_poster(programme_id: int):
    """The programme on one A4 page with a code to scan, for the notice board and the community's WeChat group:
    that is where families learn of a class, and a code takes them to its page without typing an address."""
    programme = _managed_programme(programme_id)
    url = url_for("enrolment.show_programme", programme_id=programme.id, _external=True)
    return render_template("enrolment/manage/poster.html", programme=programme, url=url, svg=qr_svg(url))


def _to_manage_page(programme_id: int, **kwargs):
    status = request.args.get("status")
    return redirect(url_for("enrolment.manage_enrolments", programme_id=programme_id,
                            **({"status": status} if status else {}), **kwargs))


@bp.post("/manage/programmes/<int:programme_id>/enrolments/<int:enrolment_id>/priority")
@role_required(*MANAGERS)
def change_priority_group(programme_id: int, enrolment_id: int):
    form = PriorityGroupForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                changed = services.change_priority_group(actor=current_user, enrolment_id=enrolment_id,
                                                         priority_group_id=form.priority_group_id.data)
        except DomainError as error:
            refuse_on_form(None, error)
        else:
            if changed:
                flash(_("The priority group has been changed and the family told."), "success")
    else:
        flash_form_errors(form)
    return _to_manage_page(programme_id, _anchor=f"enrolment-{enrolment_id}")


@bp.post("/manage/programmes/<int:programme_id>/enrolments/<int:enrolment_id>/approve")
@role_required(*MANAGERS)
def approve(programme_id: int, enrolment_id: int):
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.approve(actor=current_user, enrolment_id=enrolment_id)
        except DomainError as error:
            refuse_on_form(None, error)
        else:
            flash(_("The enrolment has been approved."), "success")
    else:
        flash_form_errors(form)
    return _to_manage_page(programme_id, _anchor=f"enrolment-{enrolment_id}")


@bp.post("/manage/programmes/<int:programme_id>/enrolments/<int:enrolment_id>/remove")
@role_required(*MANAGERS)
def remove(programme_id: int, enrolment_id: int):
    form = RemoveForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.remove(actor=current_user, enrolment_id=enrolment_id, reason=form.reason.data.strip())
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("The child has been removed from the programme."), "success")
            return _to_manage_page(programme_id)
    return _manage_page(_managed_programme(programme_id), remove_form=form, remove_id=enrolment_id)


@bp.post("/manage/programmes/<int:programme_id>/capacity")
@role_required(*MANAGERS)
def change_capacity(programme_id: int):
    programme = _managed_programme(programme_id)
    form = CapacityForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.change_capacity(actor=current_user, programme_id=programme.id,
                                         capacity=form.capacity.data, session_id=form.session_id.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("The number of seats has been changed."), "success")
            return _to_manage_page(programme_id)
    return _manage_page(programme, capacity_form=form)


@bp.post("/manage/programmes/<int:programme_id>/draw")
@role_required(*MANAGERS)
def run_draw(programme_id: int):
    programme = _managed_programme(programme_id)
    form = DrawForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                draw.run_draw(actor=current_user, programme_id=programme.id,
                              seed=(form.seed.data or "").strip() or None)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("The draw has been made and its result published."), "success")
            return redirect(url_for("enrolment.show_draw", programme_id=programme_id))
    return _manage_page(programme, draw_form=form)


# ---- a coordinator changes one session (the families holding seats in it are told) -------------------------------


@bp.route("/manage/programmes/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@role_required(Role.COORDINATOR, Role.ADMIN)
def edit_session(session_id: int):
    item = db.session.get(ProgrammeSession, session_id)
    if item is None:
        raise NotFound()
    programme = programme_services.get_programme_for_manager(actor=current_user, programme_id=item.programme_id)

    def naive_local(value):
        return to_local(value).replace(tzinfo=None)

    form = SessionForm(data={"starts_at_local": naive_local(item.starts_at), "ends_at_local": naive_local(item.ends_at),
                             "venue_id": item.venue_id, "note": item.note, "cancelled": item.cancelled})
    venues = venues_of(programme.community_id)
    form.venue_id.choices = [SelectChoice(value="", label=_("No venue yet"))] + [
        SelectChoice(value=v.id, label=f"{programme.community.name} · {v.name}") for v in venues]
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.change_session(actor=current_user, session_id=session_id,
                                        starts_at_local=form.starts_at_local.data,
                                        ends_at_local=form.ends_at_local.data, venue_id=form.venue_id.data,
                                        cancelled=form.cancelled.data, note=form.note.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("Your changes have been saved."), "success")
            return redirect(url_for("programmes.show", programme_id=programme.id, _anchor=f"session-{session_id}"))
    return render_template("programmes/manage/session.html", form=form, programme=programme, item=item)

