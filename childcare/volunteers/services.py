"""Volunteers: applications and approval per community, posts in sessions (shifts), and the hours ledger.

Claims are decided under a lock on the session row and recounted inside it, so that two volunteers pressing
"claim" for the last post at once cannot both get it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from childcare.accounts.models import Role, RoleGrant, User
from childcare.accounts.permissions import ensure_manages_community
from childcare.accounts.services import grant_role
from childcare.audit.services import record
from childcare.db import db, utcnow, write_intent
from childcare.errors import DomainError, InvalidInput, NotFound, busy_on_lock_timeout
from childcare.i18n import to_local
from childcare.notifications.kinds import register_kind
from childcare.notifications.services import notify
from childcare.places.models import Community
from childcare.programmes.models import ProgrammeSession
from childcare.volunteers import queries
from childcare.volunteers.models import (
    ApplicationStatus,
    HoursEntry,
    Shift,
    ShiftStatus,
    VolunteerApplication,
    VolunteerKind,
)

#: a post given up this close to the session asks the community's free volunteers to cover it
COVER_REQUEST_HOURS = 24
#: the longest stretch one shift may count for
MAX_SHIFT_MINUTES = 12 * 60
REASON_MAX = 300

register_kind("volunteer.application_received", _l("New volunteer application"),
              _l("%(name)s has applied to volunteer in %(community)s."))
register_kind("volunteer.approved", _l("Volunteer application approved"),
              _l("Welcome! You can now claim posts in %(community)s. %(note)s"))
register_kind("volunteer.declined", _l("Volunteer application declined"),
              _l("Your application to volunteer in %(community)s was declined. %(note)s"))
register_kind("volunteer.cover_request", _l("A volunteer post needs cover"),
              _l("A post in %(programme)s on %(when)s is free again. Can you help? Claim it on the volunteer board."))
register_kind("volunteer.shift_assigned", _l("You have a volunteer post"),
              _l("The coordinator gave you a post in %(programme)s on %(when)s."))
register_kind("volunteer.shift_removed", _l("Volunteer post removed"),
              _l("The coordinator removed your post in %(programme)s on %(when)s. %(reason)s"))
register_kind("volunteer.hours_corrected", _l("Volunteer hours corrected"),
              _l("Your volunteer hours in %(community)s were corrected by %(minutes)s minutes. Reason: %(reason)s"))
register_kind("volunteer.understaffed", _l("A session needs volunteers"),
              _l("%(programme)s on %(when)s still needs %(open)s volunteer(s)."))


# ---- refusals ---------------------------------------------------------------------------------------------------


class NotApproved(DomainError):
    """Only volunteers approved in the session's community may hold a post there."""

    status = 403
    code = "not_approved"
    default_message = _l("You are not an approved volunteer of this community yet.")


class ClaimClosed(DomainError):
    """Claims and releases close claim_cutoff_hours before the session starts."""

    code = "claim_closed"
    default_message = _l("Posts in this session can no longer be claimed or given up here. "
                         "Please call the coordinator.")


class NoOpenPost(DomainError):
    """Every post of the session is taken."""

    status = 409
    code = "no_open_post"
    default_message = _l("All posts in this session are taken. Thank you all the same!")


class Overlap(DomainError):
    """The volunteer already holds a post at the same time."""

    status = 409
    code = "overlap"
    default_message = _l("You already have a post at the same time.")


class SessionUnavailable(DomainError):
    """The session is cancelled or over."""

    code = "session_unavailable"
    default_message = _l("This session is cancelled or over.")


class InvalidState(DomainError):
    """The shift or application is not in a state that allows this step."""

    status = 409
    code = "invalid_state"
    default_message = _l("This cannot be changed this way any more.")


# ---- helpers ----------------------------------------------------------------------------------------------------


def _lock_session(session_id: int, volunteer_id: int) -> None:
    """Lock the session row (whose posts are counted) and then the volunteer's row (whose overlaps are checked).

    Always in this order, so two writers never wait on each other in a cycle. PostgreSQL: SELECT ... FOR UPDATE
    after SET LOCAL lock_timeout. SQLite: writers already began with BEGIN IMMEDIATE (db.py), which is the lock.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        seconds = int(current_app.config.get("LOCK_TIMEOUT_SECONDS", 5))
        db.session.execute(sa.text(f"SET LOCAL lock_timeout = '{seconds}s'"))
        db.session.execute(sa.text("SELECT id FROM programme_sessions WHERE id = :id FOR UPDATE"), {"id": session_id})
        db.session.execute(sa.text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": volunteer_id})
    elif not write_intent.get():
        # A transaction begun read-only must take the write lock now, or its count could be stale when it writes.
        db.session.execute(sa.text("UPDATE programme_sessions SET id = id WHERE 0"))


def _when(session: ProgrammeSession) -> str:
    return to_local(session.starts_at).strftime("%Y-%m-%d %H:%M")


def _load_session(session_id: int) -> ProgrammeSession:
    session = db.session.get(ProgrammeSession, session_id)
    if session is None:
        raise NotFound()
    return session


def _held_shift(volunteer_id: int, session_id: int) -> Shift | None:
    return db.session.scalar(sa.select(Shift).where(Shift.volunteer_id == volunteer_id, Shift.session_id == session_id,
                                                    Shift.status == ShiftStatus.HELD))


def _audit_shift(actor: User | None, action: str, shift: Shift, reason: str = "", **after: object) -> None:
    record(actor=actor, action=action, obj=shift, community_id=shift.session.programme.community_id,
           after={"status": shift.status.value, "session_id": shift.session_id, "volunteer_id": shift.volunteer_id,
                  **after}, reason=reason)


def _text(value: str | None, limit: int, field: str) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise InvalidInput(_l("This text may have at most %(n)s characters."), field=field, n=limit)
    return value


# ---- applications -----------------------------------------------------------------------------------------------


def apply(*, actor: User, community_id: int, kind: VolunteerKind | str, organisation: str = "", skills: str = "",
          availability: str = "") -> VolunteerApplication:
    """Offer to volunteer in a community; a repeat while one is pending or approved answers that one."""
    community = db.session.get(Community, community_id)
    if community is None:
        raise NotFound()
    try:
        kind = VolunteerKind(kind)
    except ValueError:
        raise InvalidInput(_l("Please choose who you are."), field="kind") from None
    existing = queries.live_application(actor.id, community_id)
    if existing is not None:
        return existing
    application = VolunteerApplication(user_id=actor.id, community_id=community_id, kind=kind,
                                       organisation=_text(organisation, 120, "organisation"),
                                       skills=_text(skills, 500, "skills"),
                                       availability=_text(availability, 500, "availability"))
    db.session.add(application)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        # Two submissions at once: the partial unique index lets one through; the other answers it.
        existing = queries.live_application(actor.id, community_id)
        if existing is None:
            raise
        return existing
    record(actor=actor, action="volunteer.applied", obj=application, after={"kind": kind.value})
    coordinators = db.session.scalars(sa.select(User).join(RoleGrant, RoleGrant.user_id == User.id)
                                      .where(RoleGrant.role == Role.COORDINATOR,
                                             RoleGrant.community_id == community_id))
    for coordinator in coordinators:
        notify(coordinator, "volunteer.application_received", link="/volunteers/manage/", name=actor.name,
               community=community.name)
    return application


def decide(*, actor: User, application_id: int, approve: bool, note: str = "") -> VolunteerApplication:
    """A coordinator of the community approves or declines a pending application; the applicant is told."""
    application = db.session.get(VolunteerApplication, application_id)
    if application is None:
        raise NotFound()
    ensure_manages_community(actor, application.community_id, hide=True)
    note = _text(note, 500, "note")
    if application.status != ApplicationStatus.PENDING:
        raise InvalidState(_l("This application has already been decided."))
    application.status = ApplicationStatus.APPROVED if approve else ApplicationStatus.DECLINED
    application.decision_note = note
    application.decided_by_id = actor.id
    application.decided_at = utcnow()
    db.session.flush()
    if approve:
        # The global role opens the volunteer screens; serving is still decided per community (the application).
        grant_role(actor=None, user=application.user, role=Role.VOLUNTEER)
    record(actor=actor, action=f"volunteer.{application.status.value}", obj=application,
           after={"user_id": application.user_id}, reason=note)
    notify(application.user, f"volunteer.{application.status.value}", link="/volunteers/",
           community=application.community.name, note=note)
    return application


# ---- posts (shifts) ---------------------------------------------------------------------------------------------


def _ensure_bookable(session: ProgrammeSession, now: datetime) -> None:
    if session.cancelled or session.ends_at <= now:
        raise SessionUnavailable()


def _open_posts_now(session: ProgrammeSession) -> int:
    return queries.staffing_of([session.id])[session.id].open_posts


def _take_post(*, session: ProgrammeSession, volunteer: User, assigned_by: User | None,
               need_open_post: bool) -> tuple[Shift, bool]:
    """Give the volunteer a post in the session under the lock; answers (shift, created)."""
    _lock_session(session.id, volunteer.id)
    existing = _held_shift(volunteer.id, session.id)  # recounted inside the lock
    if existing is not None:
        return existing, False
    if queries.overlapping_shift(volunteer.id, session) is not None:
        raise Overlap()
    if need_open_post and _open_posts_now(session) <= 0:
        raise NoOpenPost()
    shift = Shift(session_id=session.id, volunteer_id=volunteer.id, assigned_by_id=getattr(assigned_by, "id", None))
    db.session.add(shift)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        existing = _held_shift(volunteer.id, session.id)
        if existing is None:
            raise
        return existing, False
    return shift, True


@busy_on_lock_timeout
def claim(*, actor: User, session_id: int) -> Shift:
    """An approved volunteer claims a post (认领岗位) until the cut-off; a repeat answers the post already held."""
    session = _load_session(session_id)
    programme = session.programme
    if not queries.is_approved(actor.id, programme.community_id):
        raise NotApproved()
    now = utcnow()
    existing = _held_shift(actor.id, session.id)
    if existing is not None:
        return existing
    _ensure_bookable(session, now)
    if now > queries.claim_until(session):
        raise ClaimClosed()
    shift, created = _take_post(session=session, volunteer=actor, assigned_by=None, need_open_post=True)
    if created:
        _audit_shift(actor, "volunteer.shift_claimed", shift)
    return shift


def release(*, actor: User, shift_id: int) -> Shift:
    """The volunteer gives up their own post until the cut-off; close to the session, free volunteers are asked."""
    shift = db.session.get(Shift, shift_id)
    if shift is None or shift.volunteer_id != actor.id:
        raise NotFound()
    if shift.status != ShiftStatus.HELD:
        return shift  # released already: a double tap changes nothing
    session = shift.session
    now = utcnow()
    if now > queries.claim_until(session):
        raise ClaimClosed()
    shift.status = ShiftStatus.RELEASED
    shift.released_at = now
    db.session.flush()
    _audit_shift(actor, "volunteer.shift_released", shift)
    if session.starts_at - now <= timedelta(hours=COVER_REQUEST_HOURS):
        _ask_for_cover(session, exclude_id=actor.id)
    return shift


def _ask_for_cover(session: ProgrammeSession, *, exclude_id: int) -> int:
    """Ask the community's approved volunteers who are free at that time to take the post."""
    free = queries.free_approved_volunteers(session.programme.community_id, session, exclude_id=exclude_id)
    for volunteer in free:
        notify(volunteer, "volunteer.cover_request", link="/volunteers/", programme=session.programme.title,
               when=_when(session), session_id=session.id)
    return len(free)


@busy_on_lock_timeout
def assign(*, actor: User, session_id: int, volunteer_id: int) -> Shift:
    """A coordinator gives an approved volunteer a post; the cut-off does not apply, overlaps still do."""
    session = _load_session(session_id)
    community_id = session.programme.community_id
    ensure_manages_community(actor, community_id, hide=True)
    volunteer = db.session.get(User, volunteer_id)
    if volunteer is None or not queries.is_approved(volunteer.id, community_id):
        raise NotApproved(_l("This person is not an approved volunteer of this community."), field="volunteer_id")
    if session.cancelled:
        raise SessionUnavailable()
    # A coordinator may staff a session above what the ratio asks for.
    shift, created = _take_post(session=session, volunteer=volunteer, assigned_by=actor, need_open_post=False)
    if created:
        _audit_shift(actor, "volunteer.shift_assigned", shift)
        notify(volunteer, "volunteer.shift_assigned", link="/volunteers/", programme=session.programme.title,
               when=_when(session))
    return shift


def remove(*, actor: User, shift_id: int, reason: str = "") -> Shift:
    """A coordinator takes a post away from a volunteer; the volunteer is told."""
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        raise NotFound()
    session = shift.session
    ensure_manages_community(actor, session.programme.community_id, hide=True)
    reason = _text(reason, REASON_MAX, "reason")
    if shift.status != ShiftStatus.HELD:
        return shift
    shift.status = ShiftStatus.REMOVED
    shift.released_at = utcnow()
    db.session.flush()
    _audit_shift(actor, "volunteer.shift_removed", shift, reason=reason)
    notify(shift.volunteer, "volunteer.shift_removed", link="/volunteers/", programme=session.programme.title,
           when=_when(session), reason=reason)
    return shift


# ---- hours ------------------------------------------------------------------------------------------------------


def _own_held_shift(actor: User, shift_id: int) -> Shift:
    shift = db.session.get(Shift, shift_id)
    if shift is None or shift.volunteer_id != actor.id:
        raise NotFound()
    if shift.status != ShiftStatus.HELD:
        raise InvalidState()
    return shift


def _minutes_between(start: datetime, end: datetime) -> int:
    return min(MAX_SHIFT_MINUTES, max(0, round((end - start).total_seconds() / 60)))


def _write_hours(shift: Shift, recorded_by: User) -> HoursEntry:
    """The ledger line of a served shift: one per shift (shift_id is unique), updated when times are confirmed."""
    minutes = _minutes_between(shift.checked_in_at, shift.checked_out_at)
    served_on = to_local(shift.checked_in_at).date()
    entry = db.session.scalar(sa.select(HoursEntry).where(HoursEntry.shift_id == shift.id))
    if entry is None:
        entry = HoursEntry(volunteer_id=shift.volunteer_id, community_id=shift.session.programme.community_id,
                           shift_id=shift.id, served_on=served_on, minutes=minutes, recorded_by_id=recorded_by.id)
        db.session.add(entry)
    else:
        entry.minutes, entry.served_on, entry.recorded_by_id = minutes, served_on, recorded_by.id
    db.session.flush()
    return entry


def check_in(*, actor: User, shift_id: int) -> Shift:
    """The volunteer checks in to their own post on the day of the session (a repeat changes nothing)."""
    shift = _own_held_shift(actor, shift_id)
    now = utcnow()
    if to_local(now).date() != shift.session.on_date:
        raise InvalidState(_l("You can check in on the day of the session."), code="not_today")
    if shift.checked_in_at is None:
        shift.checked_in_at = now
        db.session.flush()
        _audit_shift(actor, "volunteer.checked_in", shift)
    return shift


def check_out(*, actor: User, shift_id: int) -> HoursEntry:
    """The volunteer checks out; the minutes since check-in go into the hours ledger."""
    shift = _own_held_shift(actor, shift_id)
    if shift.checked_in_at is None:
        raise InvalidState(_l("Please check in first."), code="not_checked_in")
    if shift.checked_out_at is not None:
        return _write_hours(shift, actor)  # a double tap: the same line, unchanged
    shift.checked_out_at = max(utcnow(), shift.checked_in_at)
    entry = _write_hours(shift, actor)
    _audit_shift(actor, "volunteer.checked_out", shift, minutes=entry.minutes)
    return entry


def confirm_times(*, actor: User, shift_id: int, checked_in_at: datetime, checked_out_at: datetime) -> HoursEntry:
    """A coordinator confirms when the volunteer came and left; the shift's ledger line follows."""
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        raise NotFound()
    ensure_manages_community(actor, shift.session.programme.community_id, hide=True)
    if shift.status != ShiftStatus.HELD:
        raise InvalidState()
    if checked_out_at <= checked_in_at:
        raise InvalidInput(_l("The time of leaving must be after the time of arriving."), field="checked_out_at")
    if checked_out_at - checked_in_at > timedelta(minutes=MAX_SHIFT_MINUTES):
        raise InvalidInput(_l("A shift may count for at most %(n)s hours."), field="checked_out_at",
                           n=MAX_SHIFT_MINUTES // 60)
    if checked_in_at > utcnow():
        raise InvalidInput(_l("Times in the future cannot be confirmed."), field="checked_in_at")
    before = {"checked_in_at": shift.checked_in_at, "checked_out_at": shift.checked_out_at}
    shift.checked_in_at, shift.checked_out_at = checked_in_at, checked_out_at
    shift.confirmed_by_id = actor.id
    entry = _write_hours(shift, actor)
    record(actor=actor, action="volunteer.times_confirmed", obj=shift, community_id=entry.community_id,
           before=before, after={"checked_in_at": checked_in_at, "checked_out_at": checked_out_at,
                                 "minutes": entry.minutes})
    return entry


def correct_hours(*, actor: User, volunteer_id: int, community_id: int, minutes: int, reason: str,
                  served_on: date | None = None) -> HoursEntry:
    """A coordinator adds a correction (plus or minus minutes) with a required reason; the total never goes below 0."""
    ensure_manages_community(actor, community_id, hide=True)
    volunteer = db.session.get(User, volunteer_id)
    if volunteer is None or db.session.scalar(sa.select(VolunteerApplication.id).where(
            VolunteerApplication.user_id == volunteer_id, VolunteerApplication.community_id == community_id,
            VolunteerApplication.status == ApplicationStatus.APPROVED)) is None:
        raise NotFound()
    reason = _text(reason, REASON_MAX, "reason")
    if not reason:
        raise InvalidInput(_l("Please give the reason for the correction."), field="reason", code="reason_required")
    if not minutes:
        raise InvalidInput(_l("Please enter the minutes to add (or, with a minus sign, to take away)."),
                           field="minutes")
    if queries.community_total_minutes(volunteer_id, community_id) + minutes < 0:
        raise InvalidInput(_l("A correction cannot make the total negative."), field="minutes",
                           code="negative_total")
    entry = HoursEntry(volunteer_id=volunteer_id, community_id=community_id, shift_id=None,
                       served_on=served_on or to_local(utcnow()).date(), minutes=minutes, reason=reason,
                       recorded_by_id=actor.id)
    db.session.add(entry)
    db.session.flush()
    record(actor=actor, action="volunteer.hours_corrected", obj=entry, community_id=community_id,
           after={"volunteer_id": volunteer_id, "minutes": minutes, "served_on": entry.served_on}, reason=reason)
    notify(volunteer, "volunteer.hours_corrected", link="/volunteers/hours", community=entry.community.name,
           minutes=f"{minutes:+d}", reason=reason)
    return entry


# ---- jobs -------------------------------------------------------------------------------------------------------


def alert_understaffed(*, now: datetime | None = None, within_hours: int = 48) -> int:
    """Tell coordinators once about each session starting soon that still has open posts; answers alerts sent."""
    from childcare.notifications.models import Notification

    now = now or utcnow()
    sessions = [s for s in queries.upcoming_sessions(None, now, days=max(1, within_hours // 24 + 1))
                if now < s.starts_at <= now + timedelta(hours=within_hours)]
    staffing = queries.staffing_of([s.id for s in sessions])
    short = [s for s in sessions if staffing[s.id].understaffed]
    if not short:
        return 0
    community_ids = {s.programme.community_id for s in short}
    grants = db.session.execute(sa.select(RoleGrant.community_id, User).join(User, User.id == RoleGrant.user_id)
                                .where(RoleGrant.role == Role.COORDINATOR, RoleGrant.community_id.in_(community_ids)))
    coordinators: dict[int, list[User]] = {}
    for community_id, user in grants:
        coordinators.setdefault(community_id, []).append(user)
    links = {f"/volunteers/manage/staffing#session-{s.id}": s for s in short}
    # The link names the session: an alert already sent for it (to that coordinator) is not sent again.
    sent = set(db.session.execute(sa.select(Notification.user_id, Notification.link)
                                  .where(Notification.kind == "volunteer.understaffed",
                                         Notification.link.in_(list(links)))))
    count = 0
    for link, session in links.items():
        for user in coordinators.get(session.programme.community_id, []):
            if (user.id, link) in sent:
                continue
            notify(user, "volunteer.understaffed", link=link, programme=session.programme.title,
                   when=_when(session), open=staffing[session.id].open_posts)
            count += 1
    return count
