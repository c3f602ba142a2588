"""Enrolment rules: sign up, waiting list, offers, cancellation, capacity changes and leave (请假).

Every seat decision is taken under enrolment.capacity's lock and recounted inside it; every path that frees
a seat calls promote_waiting_list() under that same lock, in the same unit of work.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from childcare.accounts.models import User
from childcare.accounts.permissions import can_manage_community, ensure_manages_community
from childcare.audit.models import AuditEntry
from childcare.audit.services import entry_values, record
from childcare.children.models import Child, Guardianship
from childcare.db import as_loaded, db, fetch, insert_together, run_prepared, take_read_ahead, utcnow
from childcare.enrolment.capacity import (
    lock_and_recount,
    lock_capacity,
    seats_held,
    seats_left,
    would_be_understaffed,
)
from childcare.enrolment.models import LIVE, SEAT_HOLDING, Enrolment, EnrolmentStatus, Leave
from childcare.enrolment.queries import waitlist_order
from childcare.errors import DomainError, InvalidInput, NotFound, busy_on_lock_timeout
from childcare.i18n import to_local
from childcare.notifications.kinds import register_kind
from childcare.notifications.models import Notification, OutboxMessage
from childcare.notifications.services import compose, notify
from childcare.programmes.models import Allocation, EnrolmentMode, Programme, ProgrammeSession, Promotion
from childcare.programmes.services import CAPACITY_MAX, update_session

DEFAULT_PRIORITY = 100
REASON_MAX = 300

register_kind("enrolment.confirmed", _l("Enrolment confirmed"),
              _l("%(child)s has a seat in %(programme)s%(session)s."))
register_kind("enrolment.pending", _l("Enrolment received"),
              _l("%(child)s's enrolment in %(programme)s%(session)s awaits the coordinator's approval."))
register_kind("enrolment.applied", _l("Application received"),
              _l("%(child)s's application for %(programme)s is in. Seats are drawn when applications close."))
register_kind("enrolment.waitlisted", _l("On the waiting list"),
              _l("%(child)s is number %(position)s on the waiting list of %(programme)s%(session)s."))
register_kind("enrolment.offered", _l("A seat is offered"),
              _l("A seat in %(programme)s%(session)s is offered to %(child)s. Please accept it before %(expires)s."))
register_kind("enrolment.promoted", _l("Off the waiting list"),
              _l("A seat became free: %(child)s now has a seat in %(programme)s%(session)s."))
register_kind("enrolment.cancelled", _l("Enrolment cancelled"),
              _l("The enrolment of %(child)s in %(programme)s%(session)s was cancelled."))
register_kind("enrolment.removed", _l("Enrolment removed"),
              _l("The coordinator removed %(child)s from %(programme)s%(session)s. Reason: %(reason)s"))
register_kind("enrolment.expired", _l("Offer expired"),
              _l("The seat offered to %(child)s in %(programme)s%(session)s was not accepted in time."))
register_kind("enrolment.session_cancelled", _l("Session cancelled"),
              _l("The session of %(programme)s on %(date)s is cancelled. %(note)s"))
register_kind("enrolment.session_changed", _l("Session changed"),
              _l("The session of %(programme)s on %(date)s now runs %(time)s at %(venue)s. %(note)s"))
register_kind("enrolment.approved", _l("Enrolment approved"),
              _l("The coordinator approved %(child)s's enrolment in %(programme)s%(session)s."))
register_kind("enrolment.priority_changed", _l("Priority group changed"),
              _l("The coordinator put %(child)s in the priority group of %(programme)s: %(group)s."))
register_kind("enrolment.priority_removed", _l("Priority group changed"),
              _l("The coordinator took %(child)s out of the priority groups of %(programme)s."))


# ---- refusals ------------------------------------------------------------------------------------------------


class RegistrationClosed(DomainError):
    """Registration has not opened yet, or has closed."""

    code = "registration_closed"
    default_message = _l("Registration for this programme is closed.")


class OutOfAgeRange(DomainError):
    """The child's age (on the first day) or school grade is outside the programme's range."""

    code = "out_of_age_range"
    default_message = _l("The child is outside this programme's age range.")


class Overlap(DomainError):
    """The child already has a live enrolment in another programme at the same time."""

    code = "overlap"
    default_message = _l("The child is already enrolled elsewhere at the same time.")


class CapacityBelowTaken(DomainError):
    """A coordinator tried to lower the capacity below the seats already held."""

    code = "capacity_below_taken"
    default_message = _l("The capacity cannot be lower than the %(held)s seats already taken.")


class OfferExpired(DomainError):
    """The offered seat was not accepted in time."""

    code = "offer_expired"
    default_message = _l("Sorry, this offer has expired and the seat has gone to the next family.")


class SessionUnavailable(DomainError):
    """The session is cancelled or has already started."""

    code = "session_unavailable"
    default_message = _l("This session can no longer be booked.")


class InvalidState(DomainError):
    """The enrolment is not in a state that allows this step (e.g. accepting an offer that was never made)."""

    status = 409
    code = "invalid_state"
    default_message = _l("This enrolment cannot be changed this way any more.")


class NoSeat(DomainError):
    """Leave was asked for a session the child holds no seat in."""

    code = "no_seat"
    default_message = _l("%(child)s has no seat in the session on %(date)s.")


# ---- helpers ---------------------------------------------------------------------------------------------------


def _local_text(value: datetime) -> str:
    return to_local(value).strftime("%Y-%m-%d %H:%M")


def _guardians_of(child_ids: Iterable[int]) -> dict[int, list[User]]:
    ids = set(child_ids)
    if not ids:
        return {}
    rows = db.session.execute(sa.select(Guardianship.child_id, User).join(User, User.id == Guardianship.user_id)
                              .where(Guardianship.child_id.in_(ids)).order_by(Guardianship.id)
                              .options(lazyload(User.grants)))  # a message needs no roles
    out: dict[int, list[User]] = {}
    for child_id, user in rows:
        out.setdefault(child_id, []).append(user)
    return out


def _is_guardian(actor: User, child_id: int) -> bool:
    return db.session.scalar(sa.select(Guardianship.id).where(Guardianship.user_id == actor.id,
                                                              Guardianship.child_id == child_id)) is not None


def _family_messages(enrolments: Sequence[Enrolment], kind: str, *, positions: dict[int, int] | None = None,
                     guardians: dict[int, list[User]] | dict[int, list[Recipient]] | None = None,
                     **extra: object) -> Iterator[tuple[User | Recipient, dict]]:
    """Each guardian of each child, with what the message about that child says (one query for all guardians,
    unless the caller has them)."""
    if guardians is None:
        guardians = _guardians_of(e.child_id for e in enrolments)
    for e in enrolments:
        data: dict = {"child": e.child.name, "programme": e.programme.title, "enrolment_id": e.id,
                      "session": f" ({e.session.on_date.isoformat()})" if e.session is not None else "", **extra}
        if e.offer_expires_at is not None and kind == "enrolment.offered":
            data["expires"] = _local_text(e.offer_expires_at)
        if positions and e.id in positions:
            data["position"] = positions[e.id]
        for user in guardians.get(e.child_id, []):
            yield user, data


def _tell_families(enrolments: Sequence[Enrolment], kind: str, *, positions: dict[int, int] | None = None,
                   guardians: dict[int, list[User]] | None = None, **extra: object) -> None:
    """Notify every guardian of each child."""
    for user, data in _family_messages(enrolments, kind, positions=positions, guardians=guardians, **extra):
        notify(user, kind, **data)


def _audit_fields(actor: User | None, action: str, enrolment: Enrolment, reason: str = "",
                  **after: object) -> dict:
    return {"actor": actor, "action": action, "obj": enrolment, "community_id": enrolment.programme.community_id,
            "after": {"status": enrolment.status.value, "child_id": enrolment.child_id,
                      "programme_id": enrolment.programme_id, "session_id": enrolment.session_id, **after},
            "reason": reason}


def _audit(actor: User | None, action: str, enrolment: Enrolment, reason: str = "", **after: object) -> None:
    record(**_audit_fields(actor, action, enrolment, reason, **after))


def _seat_status(programme: Programme) -> EnrolmentStatus:
    return EnrolmentStatus.PENDING if programme.needs_approval else EnrolmentStatus.CONFIRMED


def _lock_for(programme: Programme, session_ids: Iterable[int | None]) -> None:
    """Take the seat lock of a programme (whole mode) or its sessions (day mode) and reload what it guards."""
    ids = sorted({sid for sid in session_ids if sid is not None})
    if programme.mode == EnrolmentMode.DAY and ids:
        lock_capacity(session_ids=ids)
        db.session.refresh(programme)  # the sessions' default capacity lives on the programme
    else:
        lock_capacity(programme_id=programme.id)


def _load_enrolment(enrolment_id: int) -> Enrolment:
    enrolment = db.session.scalar(sa.select(Enrolment).where(Enrolment.id == enrolment_id)
                                  .options(joinedload(Enrolment.programme), joinedload(Enrolment.child),
                                           joinedload(Enrolment.session)))
    if enrolment is None:
        raise NotFound()
    return enrolment


def _locked(enrolment: Enrolment) -> Enrolment:
    """Lock the enrolment's seats, then re-read it: its status before the lock may be stale."""
    _lock_for(enrolment.programme, [enrolment.session_id])
    db.session.refresh(enrolment)
    return enrolment


def _end(enrolment: Enrolment, status: EnrolmentStatus, reason: str = "") -> bool:
    """End an enrolment; answers whether it freed a seat."""
    freed = enrolment.status in SEAT_HOLDING
    enrolment.status = status
    enrolment.ended_at = utcnow()
    enrolment.end_reason = (reason or "").strip()[:REASON_MAX]
    return freed


# ---- the waiting list -----------------------------------------------------------------------------------------


def promote_waiting_list(*, programme: Programme, session: ProgrammeSession | None = None,
                         actor: User | None = None) -> list[Enrolment]:
    """Give freed seats to the waiting list in order; the caller holds the seat lock (same unit of work)."""
    if programme.allocation == Allocation.DRAW and programme.drawn_at is None:
        return []  # applications wait for the draw; nobody is ahead of anybody yet
    now = utcnow()
    if session is not None and (session.cancelled or session.starts_at <= now):
        return []
    left = seats_left(programme, session)  # recounted inside the lock
    if left <= 0:
        return []
    query = (sa.select(Enrolment).where(Enrolment.programme_id == programme.id,
                                        Enrolment.status == EnrolmentStatus.WAITLISTED)
             .where(Enrolment.session_id.is_(None) if session is None else Enrolment.session_id == session.id)
             .order_by(*waitlist_order()).limit(left)
             .options(joinedload(Enrolment.child), joinedload(Enrolment.programme), joinedload(Enrolment.session))
             .execution_options(populate_existing=True))
    promoted = list(db.session.scalars(query))
    # Each row leaves WAITLISTED here, under the lock: a child is promoted at most once.
    for enrolment in promoted:
        if programme.promotion == Promotion.OFFER:
            enrolment.status = EnrolmentStatus.OFFERED
            enrolment.offer_expires_at = now + timedelta(hours=programme.offer_hours)
            _audit(actor, "enrolment.offered", enrolment, offer_expires_at=enrolment.offer_expires_at)
        else:
            enrolment.status = _seat_status(programme)
            _audit(actor, "enrolment.promoted", enrolment)
    db.session.flush()
    if promoted:
        kind = "enrolment.offered" if programme.promotion == Promotion.OFFER else "enrolment.promoted"
        _tell_families(promoted, kind)
    return promoted


# ---- enrolling -------------------------------------------------------------------------------------------------


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class Registration(enum.Enum):
    """Whether a programme takes sign-ups at a moment."""

    NOT_YET = "not_yet"
    OPEN = "open"
    CLOSED = "closed"
    ENDED = "ended"


def registration_at(programme: Programme, now: datetime) -> Registration:
    """One rule for the refusal of a sign-up and for what the programme's page offers at that moment."""
    if programme.registration_opens_at is not None and now < programme.registration_opens_at:
        return Registration.NOT_YET
    if programme.registration_closes_at is not None and now >= programme.registration_closes_at:
        return Registration.CLOSED
    if programme.ends_on < to_local(now).date():
        return Registration.ENDED
    return Registration.OPEN


def _ensure_open(programme: Programme, now: datetime) -> None:
    registration = registration_at(programme, now)
    if registration is Registration.NOT_YET:
        raise RegistrationClosed(_l("Registration opens at %(when)s."),
                                 when=_local_text(programme.registration_opens_at))
    if registration is Registration.CLOSED:
        raise RegistrationClosed(_l("Registration for this programme has closed."))
    if registration is Registration.ENDED:
        raise RegistrationClosed(_l("This programme has already ended."))


def _ensure_eligible(programme: Programme, child: Child) -> None:
    if programme.min_age is not None or programme.max_age is not None:
        if child.birth_date is None:
            raise OutOfAgeRange(_l("Please add %(child)s's date of birth first: this programme has an age range."),
                                field="child_ids", child=child.name)
        age = _age_on(child.birth_date, programme.starts_on)
        if programme.min_age is not None and age < programme.min_age:
            raise OutOfAgeRange(_l("%(child)s is too young for this programme: children must be at least "
                                   "%(age)s on the first day."), field="child_ids", child=child.name,
                                age=programme.min_age)
        if programme.max_age is not None and age > programme.max_age:
            raise OutOfAgeRange(_l("%(child)s is too old for this programme: children may be at most "
                                   "%(age)s on the first day."), field="child_ids", child=child.name,
                                age=programme.max_age)
    if programme.min_grade is not None or programme.max_grade is not None:
        low = programme.min_grade if programme.min_grade is not None else 0
        high = programme.max_grade if programme.max_grade is not None else 9
        if child.grade is None:
            raise OutOfAgeRange(_l("Please add %(child)s's school grade first: this programme is for certain "
                                   "grades."), field="child_ids", child=child.name)
        if not low <= child.grade <= high:
            raise OutOfAgeRange(_l("%(child)s's school grade is outside this programme's grades (%(low)s to "
                                   "%(high)s)."), field="child_ids", child=child.name, low=low, high=high)


def _ensure_no_overlap(children: Sequence[Child], clashes: dict[int, str]) -> None:
    """No child may hold a live enrolment in another programme's session at an overlapping time (`clashes`: such
    a programme's title, by child, as the sign-up's first read found them)."""
    for child in children:
        if child.id in clashes:
            raise Overlap(_l("%(child)s is already enrolled in %(programme)s at the same time."), field="child_ids",
                          child=child.name, programme=clashes[child.id])


def _clash_statement() -> sa.ScalarSelect:
    """For a child and the programme of the sign-up's first read: the title of another programme in which the child
    holds a live enrolment whose session overlaps one of the sessions asked for (day mode: those chosen; whole mode:
    every session of the programme), or null. In the first read: a child who is already enrolled elsewhere is the
    usual case in a rush, and this asks no round trip of its own."""
    sessions, enrolments, programmes = ProgrammeSession.__table__, Enrolment.__table__, Programme.__table__
    target, theirs = sessions.alias("target"), sessions.alias("their_sessions")
    other, other_programme = enrolments.alias("elsewhere"), programmes.alias("other_programme")
    asked = sa.or_(sa.and_(_programmes.c.mode == EnrolmentMode.DAY,
                           target.c.id.in_(sa.bindparam("session_ids", expanding=True))),
                   sa.and_(_programmes.c.mode != EnrolmentMode.DAY, target.c.programme_id == _programmes.c.id))
    # The sessions an enrolment covers are always its programme's (day mode: one of them), so the join goes by the
    # programme: an index finds them. Joined by "its session, or else its programme's" the OR left the database
    # only a scan of every session of every programme.
    covers = sa.and_(theirs.c.programme_id == other.c.programme_id,
                     sa.or_(other.c.session_id.is_(None), other.c.session_id == theirs.c.id))
    return (sa.select(other_programme.c.title)
            .select_from(other.join(theirs, covers)
                         .join(other_programme, other_programme.c.id == other.c.programme_id)
                         .join(target, sa.and_(theirs.c.starts_at < target.c.ends_at,
                                               target.c.starts_at < theirs.c.ends_at)))
            .where(other.c.child_id == _children.c.id, other.c.status.in_(LIVE),
                   other.c.programme_id != _programmes.c.id, theirs.c.cancelled.is_(False),
                   target.c.cancelled.is_(False), asked)
            .limit(1)
            .correlate(_children, _programmes)
            .scalar_subquery())


def _sessions_to_book(programme: Programme, session_ids: Iterable[int] | None, now: datetime
                      ) -> list[ProgrammeSession]:
    if programme.mode != EnrolmentMode.DAY:
        return []  # whole mode: one seat for every session
    ids = sorted(set(session_ids or ()))
    if not ids:
        raise InvalidInput(_l("Please choose at least one session."), field="session_ids")
    sessions = list(db.session.scalars(sa.select(ProgrammeSession).where(
        ProgrammeSession.id.in_(ids), ProgrammeSession.programme_id == programme.id).order_by(ProgrammeSession.id)))
    if len(sessions) != len(ids):
        raise InvalidInput(_l("Please choose sessions of this programme."), field="session_ids")
    for s in sessions:
        if s.cancelled:
            raise SessionUnavailable(_l("The session on %(date)s is cancelled."), field="session_ids",
                                     date=s.on_date.isoformat())
        if s.starts_at <= now:
            raise SessionUnavailable(_l("The session on %(date)s has already started."), field="session_ids",
                                     date=s.on_date.isoformat())
    return sessions


def _live_enrolments(programme_id: int, child_ids: Iterable[int], session_ids: Sequence[int | None]
                     ) -> dict[tuple[int, int | None], Enrolment]:
    query = sa.select(Enrolment).where(Enrolment.programme_id == programme_id, Enrolment.child_id.in_(child_ids),
                                       Enrolment.status.in_(LIVE))
    real = [sid for sid in session_ids if sid is not None]
    query = query.where(Enrolment.session_id.in_(real) if real else Enrolment.session_id.is_(None))
    rows = db.session.scalars(query.execution_options(populate_existing=True))
    return {(e.child_id, e.session_id): e for e in rows}


class Recipient(NamedTuple):
    """A guardian as a message needs them."""

    id: int
    locale: str | None
    phone: str


_programmes = Programme.__table__
_children = Child.__table__
_mine = Guardianship.__table__.alias("mine")
_theirs = Guardianship.__table__.alias("theirs")
_users = User.__table__
_live = Enrolment.__table__.alias("live")
# The programme, and the actor's children asked for, each with all their guardians (for the messages), their live
# enrolments in this programme (idempotency) and another programme whose time theirs overlaps (the overlap rule), in
# one query: one row per child, guardian and live enrolment here, or one row with the programme alone (none of the
# children is the actor's), or none (no programme). Only this programme's enrolments come back whole: a child who
# already attends something (the usual case in a rush, with a booking for each day in day mode) costs one subquery,
# not a row with every column of the programme and the child for each of those bookings.
_FAMILY = (_children.join(_mine, sa.and_(_mine.c.child_id == _children.c.id,
                                          _mine.c.user_id == sa.bindparam("actor_id")))
           .join(_theirs, _theirs.c.child_id == _children.c.id)
           .join(_users, _users.c.id == _theirs.c.user_id)
           .outerjoin(_live, sa.and_(_live.c.child_id == _children.c.id, _live.c.status.in_(LIVE),
                                     _live.c.programme_id == sa.bindparam("programme_id"))))
# Of a child, a sign-up reads what its rules and messages need (name, birth date, grade); the rest of the record
# (medical notes, allergies, contacts) never leaves the database on this path, and would load if something asked.
_CHILD_COLUMNS = [_children.c[key] for key in ("id", "name", "birth_date", "grade")]
# Of the programme, what the rules, the seat and the messages of a sign-up read; of an enrolment already there (a
# repeat), what tells it apart. The rest (a description, themes, the schedule's lists) loads if something asks: each
# column costs every sign-up its share of the round trip and of the driver's work.
_PROGRAMME_COLUMNS = [_programmes.c[key] for key in (
    "id", "community_id", "title", "capacity", "mode", "allocation", "needs_approval", "starts_on",
    "ends_on", "min_age", "max_age", "min_grade", "max_grade", "registration_opens_at", "registration_closes_at",
    "published", "children_per_adult", "min_volunteers", "pause_enrolment_when_understaffed")]
_LIVE_COLUMNS = [_live.c[key] for key in ("id", "programme_id", "session_id", "child_id", "status")]
_PROGRAMME_AND_CHILDREN = (
    sa.select(*(column.label(f"programme_{column.key}") for column in _PROGRAMME_COLUMNS), *_CHILD_COLUMNS,
              _users.c.id.label("guardian_id"), _users.c.locale.label("guardian_locale"),
              _users.c.phone.label("guardian_phone"), *(column.label(f"live_{column.key}") for column in _LIVE_COLUMNS),
              _clash_statement().label("clash"))
    .select_from(_programmes.outerjoin(_FAMILY, _children.c.id.in_(sa.bindparam("child_ids", expanding=True))))
    .where(_programmes.c.id == sa.bindparam("programme_id"))
    .execution_options(prepared=True))  # in no order: the API's token lookup may bring its rows along (below)
_PROGRAMME_KEYS = [column.key for column in _PROGRAMME_COLUMNS]
_CHILD_KEYS = [column.key for column in _CHILD_COLUMNS]
_LIVE_KEYS = [column.key for column in _LIVE_COLUMNS]
_ENROLMENT_KEYS = [column.key for column in Enrolment.__table__.columns]
# Where each part sits in a row: the programme, the child, the guardian (id, locale, phone), a live enrolment here,
# and the programme elsewhere whose time the child's overlaps, if any.
_PROGRAMME_AT = slice(0, len(_PROGRAMME_KEYS))
_CHILD_AT = slice(_PROGRAMME_AT.stop, _PROGRAMME_AT.stop + len(_CHILD_KEYS))
_GUARDIAN_AT = slice(_CHILD_AT.stop, _CHILD_AT.stop + 3)
_LIVE_AT = slice(_GUARDIAN_AT.stop, _GUARDIAN_AT.stop + len(_LIVE_KEYS))
_CLASH_AT = _LIVE_AT.stop


class ActorsChildren(NamedTuple):
    """What a sign-up reads about the children asked for, before any lock."""

    children: list[Child]  # the actor's own among those asked for, in the order asked
    guardians: dict[int, list[Recipient]]  # every guardian of each
    live: list[dict]  # every live enrolment of these children in this programme
    clashes: dict[int, str]  # by child: another programme it is enrolled in at a time that overlaps (its title)


def first_read_of_sign_up(programme_id: int, child_ids: Sequence[int], session_ids: Sequence[int] | None = None
                          ) -> tuple[sa.Select, dict] | None:
    """What sign_up reads first, the programme with the children asked for (its actor as `actor_id`), for a caller
    that can bring it along in a round trip it makes anyway: the API's token lookup (auth.authenticate_request)."""
    wanted_ids = list(dict.fromkeys(child_ids))
    if not wanted_ids:
        return None
    return _PROGRAMME_AND_CHILDREN, _first_read_values(programme_id, wanted_ids, session_ids)


def _first_read_values(programme_id: int, child_ids: list[int], session_ids: Sequence[int] | None) -> dict:
    return {"programme_id": programme_id, "child_ids": child_ids, "session_ids": sorted(set(session_ids or ()))}


def _programme_and_children(actor: User, programme_id: int, child_ids: list[int], session_ids: Sequence[int] | None
                            ) -> tuple[Programme | None, ActorsChildren]:
    """The programme (None when there is none) and what a sign-up needs of the children asked for: one round trip,
    or none when the token lookup brought it along."""
    params = {**_first_read_values(programme_id, child_ids, session_ids), "actor_id": actor.id}
    rows = take_read_ahead(_PROGRAMME_AND_CHILDREN, params)
    if rows is None:
        rows = run_prepared(_PROGRAMME_AND_CHILDREN, params)
    if not rows:
        return None, ActorsChildren(children=[], guardians={}, live=[], clashes={})
    programme = as_loaded(Programme, dict(zip(_PROGRAMME_KEYS, rows[0][_PROGRAMME_AT], strict=True)))
    children: dict[int, Child] = {}
    guardians: dict[int, dict[int, Recipient]] = {}
    live: dict[int, dict] = {}
    clashes: dict[int, str] = {}
    for row in rows:
        child_id = row[_CHILD_AT.start]
        if child_id is None:
            continue  # the programme alone
        if child_id not in children:
            children[child_id] = as_loaded(Child, dict(zip(_CHILD_KEYS, row[_CHILD_AT], strict=True)))
            if row[_CLASH_AT] is not None:
                clashes[child_id] = row[_CLASH_AT]
        guardian = Recipient(*row[_GUARDIAN_AT])
        guardians.setdefault(child_id, {}).setdefault(guardian.id, guardian)
        live_id = row[_LIVE_AT.start]
        if live_id is not None and live_id not in live:
            live[live_id] = dict(zip(_LIVE_KEYS, row[_LIVE_AT], strict=True))
    # Rows come in no order: guardians (whose messages go out in this order) and enrolments by id.
    return programme, ActorsChildren(children=[children[i] for i in child_ids if i in children],
                                     guardians={child_id: [each[key] for key in sorted(each)]
                                                for child_id, each in guardians.items()},
                                     live=[live[key] for key in sorted(live)], clashes=clashes)


@dataclass(frozen=True)
class EnrolmentResult:
    """What one sign-up did: every enrolment asked for, which of them are new, and new waiting places."""

    enrolments: list[Enrolment]
    created_ids: frozenset[int]
    positions: dict[int, int]


def _priority_of(programme: Programme, priority_group_id: int | None) -> tuple[int, int | None]:
    """The waiting-list priority of a group of the programme (lower goes first), or the default for none."""
    if priority_group_id is None:
        return DEFAULT_PRIORITY, None
    group = next((g for g in programme.priority_groups if g.id == priority_group_id), None)
    if group is None:
        raise InvalidInput(_l("Please choose one of this programme's priority groups."), field="priority_group_id")
    return group.rank, group.id


def enrol(*, actor: User, programme_id: int, child_ids: Sequence[int], session_ids: Sequence[int] | None = None,
          all_or_none: bool = False, priority_group_id: int | None = None) -> list[Enrolment]:
    """Enrol the actor's children (see sign_up); answers the enrolments, in the order asked."""
    return sign_up(actor=actor, programme_id=programme_id, child_ids=child_ids, session_ids=session_ids,
                   all_or_none=all_or_none, priority_group_id=priority_group_id).enrolments


@busy_on_lock_timeout
def sign_up(*, actor: User, programme_id: int, child_ids: Sequence[int], session_ids: Sequence[int] | None = None,
            all_or_none: bool = False, priority_group_id: int | None = None) -> EnrolmentResult:
    """Enrol the actor's children in a programme (or sessions): a seat, a place on the waiting list, or an application.

    Idempotent: a child who already holds a live enrolment there gets that enrolment back.
    """
    wanted_ids = list(dict.fromkeys(child_ids))
    if not wanted_ids:
        programme = fetch(Programme, programme_id)
        if programme is None or not programme.published:
            raise NotFound()
        raise InvalidInput(_l("Please choose a child."), field="child_ids")
    programme, (children, guardians, live, clashes) = _programme_and_children(actor, programme_id, wanted_ids,
                                                                              session_ids)
    if programme is None or not programme.published:
        raise NotFound()
    if len(children) != len(wanted_ids):
        raise NotFound()  # someone else's child answers the same as no child at all
    priority, group_id = _priority_of(programme, priority_group_id)

    now = utcnow()
    sessions = _sessions_to_book(programme, session_ids, now)
    slots: list[ProgrammeSession | None] = list(sessions) or [None]
    slot_ids = [s.id if s is not None else None for s in slots]
    existing = {(e["child_id"], e["session_id"]): as_loaded(Enrolment, e) for e in live
                if e["session_id"] in slot_ids}
    if len(existing) < len(children) * len(slots):
        # Something new is asked for: the rules apply (a repeat of a request that succeeded skips them).
        _ensure_open(programme, now)
        newcomers = {c.id for c in children for sid in slot_ids if (c.id, sid) not in existing}
        for child in children:
            if child.id in newcomers:
                _ensure_eligible(programme, child)
        _ensure_no_overlap([c for c in children if c.id in newcomers], clashes)
        # Pause enrolment when understaffed (volunteers): a programme that asks for it takes no new children
        # while its volunteers fall short of the ratio. Staffing is no seat, so it is read before the lock.
        if programme.pause_enrolment_when_understaffed and would_be_understaffed(
                programme, [s.id for s in sessions], len(newcomers), now):
            raise DomainError(_l("Sign-up is paused until more volunteers have joined this programme. "
                                 "Please try again later."), code="understaffed")
    asked = [(c, sid) for sid in slot_ids for c in children if (c.id, sid) not in existing]
    if not asked:  # a repeat of a request that succeeded: its enrolments, no seat to decide
        return EnrolmentResult(enrolments=[existing[(c.id, sid)] for sid in slot_ids for c in children],
                               created_ids=frozenset(), positions={})
    # Inside the lock: the locking statement with the recount of every slot (one round trip, which also brings the
    # ids of the rows to write, so that they all go out in one statement), one write, and nothing else that could
    # wait (STYLE rule 4).
    seat_lock, counts, (enrolment_ids, notification_ids) = lock_and_recount(
        programme.id, slot_ids, priority=priority, child_ids=[c.id for c, _ in asked],
        new_ids=[(Enrolment.__table__, len(asked)),
                 (Notification.__table__, sum(len(guardians[c.id]) for c, _ in asked))])
    application = programme.allocation == Allocation.DRAW and not seat_lock.drawn
    queued_at = utcnow()  # after the lock: the queue follows the order writers got the lock
    twin_slots = [sid for sid, count in counts.items() if count.twins]
    if twin_slots:
        # A twin request (a double click, the other guardian) got the lock first: answer its enrolments.
        existing.update(_live_enrolments(programme.id, [c.id for c in children], twin_slots))
    results: list[Enrolment] = []
    created: list[Enrolment] = []
    positions: dict[int, int] = {}
    next_id = iter(enrolment_ids)
    for slot in slots:
        sid = slot.id if slot is not None else None
        todo = [c for c in children if (c.id, sid) not in existing]
        left = 0 if application else max(0, seat_lock.capacities[sid] - counts[sid].held)
        seated = (len(todo) if left >= len(todo) else 0) if all_or_none else min(left, len(todo))
        ahead = counts[sid].ahead
        for child in children:
            if (child.id, sid) in existing:
                results.append(existing[(child.id, sid)])
                continue
            status = _seat_status(programme) if todo.index(child) < seated else EnrolmentStatus.WAITLISTED
            # Made as if loaded (every column given, no attribute events), with its programme, session and child:
            # the one write below stores it, and the session holds it from now on without a flush of its own.
            enrolment = as_loaded(Enrolment, {
                "id": next(next_id), "programme_id": programme.id, "session_id": sid, "child_id": child.id,
                "status": status, "priority": priority, "priority_group_id": group_id, "queued_at": queued_at,
                "draw_rank": None, "offer_expires_at": None, "created_by_id": actor.id, "created_at": queued_at,
                "updated_at": queued_at, "ended_at": None, "end_reason": ""})
            for name, value in (("programme", programme), ("session", slot), ("child", child)):
                set_committed_value(enrolment, name, value)
            results.append(enrolment)
            created.append(enrolment)
            if status == EnrolmentStatus.WAITLISTED:
                ahead += 1
                positions[enrolment.id] = ahead  # behind everyone of its priority or better
    _write_sign_ups(actor, created, positions, guardians, application, iter(notification_ids))
    return EnrolmentResult(enrolments=results, created_ids=frozenset(e.id for e in created), positions=positions)


def _write_sign_ups(actor: User, created: list[Enrolment], positions: dict[int, int],
                    guardians: dict[int, list[Recipient]], application: bool, notification_ids: Iterator[int]
                    ) -> None:
    """The new enrolments (already in the session, as if loaded) with their audit entries, inbox entries and outbox
    rows, in one round trip (STYLE rule 7: the same transaction as the seats)."""
    audits: list[dict] = []
    inbox: list[dict] = []
    outbox: list[dict] = []
    for enrolment in created:
        applied = enrolment.status == EnrolmentStatus.WAITLISTED and application
        kind = "enrolment.applied" if applied else f"enrolment.{enrolment.status.value}"
        audits.append(entry_values(**_audit_fields(actor, kind, enrolment, priority=enrolment.priority,
                                                   position=positions.get(enrolment.id))))
        for user, data in _family_messages([enrolment], kind, positions=positions, guardians=guardians):
            notification, messages = compose(user, kind, **data)
            notification["id"] = next(notification_ids)
            inbox.append(notification)
            outbox.extend({**message, "notification_id": notification["id"]} for message in messages)
    rows = [{key: getattr(e, key) for key in _ENROLMENT_KEYS} for e in created]
    insert_together([(Enrolment.__table__, rows), (AuditEntry.__table__, audits), (Notification.__table__, inbox),
                     (OutboxMessage.__table__, outbox)], last=True)


# ---- sessions that change -------------------------------------------------------------------------------------


def change_session(*, actor: User, session_id: int, **changes: object) -> ProgrammeSession:
    """A coordinator moves, relocates or cancels one session; every family holding a seat in it is told."""
    item = db.session.get(ProgrammeSession, session_id)
    if item is None:
        raise NotFound()
    before = (item.cancelled, item.starts_at, item.ends_at, item.venue_id)
    item = update_session(actor=actor, session_id=session_id, **changes)
    after = (item.cancelled, item.starts_at, item.ends_at, item.venue_id)
    if after == before or (before[0] and after[0]):
        return item  # nothing a family needs to know (a note alone is shown on the schedule)
    covers = Enrolment.session_id == item.id if item.programme.mode == EnrolmentMode.DAY \
        else sa.and_(Enrolment.programme_id == item.programme_id, Enrolment.session_id.is_(None))
    child_ids = set(db.session.scalars(sa.select(Enrolment.child_id).where(covers,
                                                                           Enrolment.status.in_(SEAT_HOLDING))))
    kind = "enrolment.session_cancelled" if item.cancelled else "enrolment.session_changed"
    local_start = to_local(item.starts_at)
    data = {"programme": item.programme.title, "date": local_start.date().isoformat(), "note": item.note,
            "time": f"{local_start:%H:%M}–{to_local(item.ends_at):%H:%M}",
            "venue": item.venue.name if item.venue is not None else ""}
    told: set[int] = set()
    for guardians in _guardians_of(child_ids).values():
        for user in guardians:
            if user.id not in told:  # one message per family, however many children they have there
                told.add(user.id)
                notify(user, kind, link="/schedule/", **data)
    return item


# ---- ending and changing enrolments ---------------------------------------------------------------------------


def _promote_after(enrolment: Enrolment, actor: User | None) -> None:
    promote_waiting_list(programme=enrolment.programme, session=enrolment.session, actor=actor)


@busy_on_lock_timeout
def cancel(*, actor: User, enrolment_id: int, reason: str = "") -> Enrolment:
    """A guardian (or the community's coordinator) cancels an enrolment; a freed seat goes to the waiting list."""
    enrolment = _load_enrolment(enrolment_id)
    if not (_is_guardian(actor, enrolment.child_id)
            or can_manage_community(actor, enrolment.programme.community_id)):
        raise NotFound()
    _locked(enrolment)
    if enrolment.status == EnrolmentStatus.CANCELLED:
        return enrolment  # a repeated click
    if enrolment.status not in LIVE:
        raise InvalidState(_l("This enrolment has already ended."))
    freed = _end(enrolment, EnrolmentStatus.CANCELLED, reason)
    db.session.flush()
    _audit(actor, "enrolment.cancelled", enrolment, reason=enrolment.end_reason)
    _tell_families([enrolment], "enrolment.cancelled")
    if freed:
        _promote_after(enrolment, actor)
    return enrolment


@busy_on_lock_timeout
def remove(*, actor: User, enrolment_id: int, reason: str) -> Enrolment:
    """A coordinator removes a child, giving a reason the family is told; the seat goes to the waiting list."""
    enrolment = _load_enrolment(enrolment_id)
    ensure_manages_community(actor, enrolment.programme.community_id, hide=True)
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(_l("Please give the family a reason."), field="reason")
    _locked(enrolment)
    if enrolment.status == EnrolmentStatus.REMOVED:
        return enrolment
    if enrolment.status not in LIVE:
        raise InvalidState(_l("This enrolment has already ended."))
    freed = _end(enrolment, EnrolmentStatus.REMOVED, text)
    db.session.flush()
    _audit(actor, "enrolment.removed", enrolment, reason=enrolment.end_reason)
    _tell_families([enrolment], "enrolment.removed", reason=enrolment.end_reason)
    if freed:
        _promote_after(enrolment, actor)
    return enrolment


@busy_on_lock_timeout
def approve(*, actor: User, enrolment_id: int) -> Enrolment:
    """A coordinator approves an enrolment awaiting approval (its seat is already held)."""
    enrolment = _load_enrolment(enrolment_id)
    ensure_manages_community(actor, enrolment.programme.community_id, hide=True)
    _locked(enrolment)
    if enrolment.status == EnrolmentStatus.CONFIRMED:
        return enrolment
    if enrolment.status != EnrolmentStatus.PENDING:
        raise InvalidState(_l("Only an enrolment awaiting approval can be approved."))
    enrolment.status = EnrolmentStatus.CONFIRMED
    db.session.flush()
    _audit(actor, "enrolment.approved", enrolment)
    _tell_families([enrolment], "enrolment.approved")
    return enrolment


@busy_on_lock_timeout
def change_priority_group(*, actor: User, enrolment_id: int, priority_group_id: int | None) -> list[Enrolment]:
    """A coordinator puts a child in one of the programme's priority groups, or in none: families say which group
    they belong to when they sign up, and the community, which knows its residents, confirms or corrects it. The
    child's places in every session of the programme move together; the waiting lists follow at once."""
    enrolment = _load_enrolment(enrolment_id)
    programme = enrolment.programme
    ensure_manages_community(actor, programme.community_id, hide=True)
    priority, group_id = _priority_of(programme, priority_group_id)
    siblings = list(db.session.scalars(sa.select(Enrolment.session_id).where(
        Enrolment.programme_id == programme.id, Enrolment.child_id == enrolment.child_id,
        Enrolment.status.in_(LIVE))))
    _lock_for(programme, [enrolment.session_id, *siblings])
    changed = list(db.session.scalars(
        sa.select(Enrolment).where(Enrolment.programme_id == programme.id, Enrolment.child_id == enrolment.child_id,
                                   Enrolment.status.in_(LIVE), Enrolment.priority_group_id.is_distinct_from(group_id))
        .order_by(Enrolment.id).execution_options(populate_existing=True)))
    if not changed:
        db.session.refresh(enrolment)
        if enrolment.status not in LIVE:
            raise InvalidState(_l("This enrolment has already ended."))
        return []  # already in that group: a repeated click
    group = next((g for g in programme.priority_groups if g.id == group_id), None)
    for item in changed:
        before = item.priority_group_id
        item.priority, item.priority_group_id = priority, group_id
        _audit(actor, "enrolment.priority_changed", item, priority=priority, priority_group_id=group_id,
               priority_group_before=before)
    db.session.flush()
    if group is None:
        _tell_families(changed[:1], "enrolment.priority_removed")
    else:
        _tell_families(changed[:1], "enrolment.priority_changed", group=group.name)
    return changed


def _guardian_enrolment(actor: User, enrolment_id: int) -> Enrolment:
    enrolment = _load_enrolment(enrolment_id)
    if not _is_guardian(actor, enrolment.child_id):
        raise NotFound()
    return _locked(enrolment)


@busy_on_lock_timeout
def accept_offer(*, actor: User, enrolment_id: int) -> Enrolment:
    """The family accepts an offered seat before it expires."""
    enrolment = _guardian_enrolment(actor, enrolment_id)
    if enrolment.status in (EnrolmentStatus.CONFIRMED, EnrolmentStatus.PENDING):
        return enrolment  # accepted already
    if enrolment.status == EnrolmentStatus.EXPIRED:
        raise OfferExpired()
    if enrolment.status != EnrolmentStatus.OFFERED:
        raise InvalidState(_l("There is no open offer for this enrolment."))
    if enrolment.offer_expires_at is not None and enrolment.offer_expires_at <= utcnow():
        # Too late: end the offer and pass the seat on now, under the lock we hold, rather than wait for the job;
        # the refusal keeps these changes (the unit of work commits them before answering).
        _end(enrolment, EnrolmentStatus.EXPIRED)
        db.session.flush()
        _audit(None, "enrolment.expired", enrolment)
        _tell_families([enrolment], "enrolment.expired")
        _promote_after(enrolment, None)
        error = OfferExpired()
        error.keeps_changes = True
        raise error
    enrolment.status = _seat_status(enrolment.programme)
    db.session.flush()
    _audit(actor, f"enrolment.{enrolment.status.value}", enrolment, accepted_offer=True)
    _tell_families([enrolment], f"enrolment.{enrolment.status.value}")
    return enrolment


@busy_on_lock_timeout
def decline_offer(*, actor: User, enrolment_id: int) -> Enrolment:
    """The family declines an offered seat; it goes to the next child at once."""
    enrolment = _guardian_enrolment(actor, enrolment_id)
    if enrolment.status == EnrolmentStatus.DECLINED:
        return enrolment
    if enrolment.status != EnrolmentStatus.OFFERED:
        raise InvalidState(_l("There is no open offer for this enrolment."))
    _end(enrolment, EnrolmentStatus.DECLINED)
    db.session.flush()
    _audit(actor, "enrolment.declined", enrolment)
    _promote_after(enrolment, actor)
    return enrolment


@busy_on_lock_timeout
def expire_offers(*, now: datetime | None = None) -> int:
    """Job: end offers past their expiry and pass each seat on; running it twice changes nothing more."""
    now = now or utcnow()
    due = sa.and_(Enrolment.status == EnrolmentStatus.OFFERED, Enrolment.offer_expires_at <= now)
    groups = sorted(db.session.execute(sa.select(Enrolment.programme_id, Enrolment.session_id).where(due)
                                       .distinct()).all(), key=lambda g: (g[0], g[1] or 0))
    count = 0
    for programme_id, session_id in groups:
        programme = db.session.get(Programme, programme_id)
        _lock_for(programme, [session_id])
        query = (sa.select(Enrolment).where(due, Enrolment.programme_id == programme_id)
                 .where(Enrolment.session_id.is_(None) if session_id is None else Enrolment.session_id == session_id)
                 .options(joinedload(Enrolment.child), joinedload(Enrolment.session))
                 .execution_options(populate_existing=True))
        expired = list(db.session.scalars(query))  # re-read inside the lock: another run may have done it
        for enrolment in expired:
            _end(enrolment, EnrolmentStatus.EXPIRED)
            _audit(None, "enrolment.expired", enrolment)
        db.session.flush()
        if expired:
            _tell_families(expired, "enrolment.expired")
            session = db.session.get(ProgrammeSession, session_id) if session_id is not None else None
            promote_waiting_list(programme=programme, session=session)
        count += len(expired)
    return count


@busy_on_lock_timeout
def change_capacity(*, actor: User, programme_id: int, capacity: int, session_id: int | None = None) -> Programme:
    """A coordinator changes the seats; lowering below the seats held is refused, raising promotes at once."""
    programme = db.session.get(Programme, programme_id)
    if programme is None:
        raise NotFound()
    ensure_manages_community(actor, programme.community_id, hide=True)
    if capacity is None or capacity < 0:
        raise InvalidInput(_l("The capacity must be zero or more."), field="capacity")
    if capacity > CAPACITY_MAX:
        # The bound a new programme has: above it, every later change to the programme would be refused.
        raise InvalidInput(_l("Please enter a number from %(low)s to %(high)s."), field="capacity", low=0,
                           high=CAPACITY_MAX)
    session = None
    if session_id is not None:
        session = db.session.get(ProgrammeSession, session_id)
        if session is None or session.programme_id != programme.id:
            raise NotFound()
    if programme.mode == EnrolmentMode.DAY:
        # Day mode: one session's seats, or the default of every session without its own number.
        targets = [session] if session is not None else list(db.session.scalars(
            sa.select(ProgrammeSession).where(ProgrammeSession.programme_id == programme.id,
                                              ProgrammeSession.capacity.is_(None))))
        if targets:
            lock_capacity(session_ids=[s.id for s in targets])
        db.session.refresh(programme)
    else:
        if session is not None:
            raise InvalidInput(_l("In this programme the seats are for the whole programme, not per session."),
                               field="session_id")
        targets = [None]
        lock_capacity(programme_id=programme.id)
    held = max((seats_held(programme.id, s.id if s is not None else None) for s in targets), default=0)
    if capacity < held:
        raise CapacityBelowTaken(field="capacity", held=held)
    before = session.capacity if session is not None else programme.capacity
    if session is not None:
        session.capacity = capacity
    else:
        programme.capacity = capacity
    db.session.flush()
    record(actor=actor, action="programme.capacity_changed", obj=programme, before={"capacity": before},
           after={"capacity": capacity, "session_id": session_id})
    for s in targets:
        promote_waiting_list(programme=programme, session=s, actor=actor)
    return programme


# ---- leave (请假) ----------------------------------------------------------------------------------------------


@busy_on_lock_timeout
def request_leave(*, actor: User, child_id: int, session_ids: Sequence[int], reason: str) -> list[Leave]:
    """A guardian tells the class in advance that the child will miss sessions the child holds a seat in."""
    if not _is_guardian(actor, child_id):
        raise NotFound()
    child = db.session.get(Child, child_id)
    ids = sorted(set(session_ids or ()))
    if not ids:
        raise InvalidInput(_l("Please choose at least one session."), field="session_ids")
    sessions = list(db.session.scalars(sa.select(ProgrammeSession).where(ProgrammeSession.id.in_(ids))
                                       .order_by(ProgrammeSession.starts_at)))
    if len(sessions) != len(ids):
        raise NotFound()
    now = utcnow()
    for s in sessions:
        if s.cancelled or s.starts_at <= now:
            raise SessionUnavailable(_l("Leave can only be asked for sessions that have not started yet."),
                                     field="session_ids")
    covered = db.session.execute(
        sa.select(ProgrammeSession.id).join(Enrolment, sa.or_(
            Enrolment.session_id == ProgrammeSession.id,
            sa.and_(Enrolment.session_id.is_(None), Enrolment.programme_id == ProgrammeSession.programme_id)))
        .where(ProgrammeSession.id.in_(ids), Enrolment.child_id == child_id, Enrolment.status.in_(SEAT_HOLDING))
    ).scalars().all()
    for s in sessions:
        if s.id not in set(covered):
            raise NoSeat(field="session_ids", child=child.name, date=s.on_date.isoformat())
    existing = {leave.session_id: leave for leave in db.session.scalars(
        sa.select(Leave).where(Leave.child_id == child_id, Leave.session_id.in_(ids)))}
    text = (reason or "").strip()[:REASON_MAX]
    leaves: list[Leave] = []
    for s in sessions:
        leave = existing.get(s.id)
        if leave is not None and leave.cancelled_at is None:
            leaves.append(leave)  # asked already
            continue
        if leave is not None:
            leave.cancelled_at, leave.reason, leave.created_by_id = None, text, actor.id
        else:
            leave = Leave(child_id=child_id, session_id=s.id, reason=text, created_by_id=actor.id)
            try:
                with db.session.begin_nested():
                    db.session.add(leave)
            except sa.exc.IntegrityError:  # a double click got in first
                leave = db.session.scalar(sa.select(Leave).where(Leave.child_id == child_id,
                                                                 Leave.session_id == s.id))
                leaves.append(leave)
                continue
        db.session.flush()
        record(actor=actor, action="leave.requested", obj=leave, after={"child_id": child_id, "session_id": s.id},
               reason=text, community_id=s.programme.community_id)
        leaves.append(leave)
    return leaves


@busy_on_lock_timeout
def cancel_leave(*, actor: User, leave_id: int) -> Leave:
    """A guardian withdraws a leave before the session starts."""
    leave = db.session.get(Leave, leave_id)
    if leave is None or not _is_guardian(actor, leave.child_id):
        raise NotFound()
    if leave.cancelled_at is not None:
        return leave
    if leave.session.starts_at <= utcnow():
        raise SessionUnavailable(_l("This session has already started."))
    leave.cancelled_at = utcnow()
    db.session.flush()
    record(actor=actor, action="leave.cancelled", obj=leave, community_id=leave.session.programme.community_id,
           after={"child_id": leave.child_id, "session_id": leave.session_id})
    return leave
