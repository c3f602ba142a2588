"""Read side of volunteers: staffing of sessions, applications, the board, shifts and the hours ledger.

Every list is scoped by the actor: a volunteer sees their own applications, posts and hours; a coordinator sees
the communities they manage.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from childcare.accounts.models import User
from childcare.accounts.permissions import managed_community_ids
from childcare.db import db
from childcare.places.models import Community
from childcare.programmes.models import Programme, ProgrammeSession
from childcare.volunteers.models import ApplicationStatus, HoursEntry, Shift, ShiftStatus, VolunteerApplication

#: Enrolments belong to a feature on the same level as this one, so they are counted through the table alone.
#: The statuses mirror enrolment.models.SEAT_HOLDING: a child holding a seat is a child to look after.
_enrolments = sa.table("enrolments", sa.column("id"), sa.column("programme_id"), sa.column("session_id"),
                       sa.column("status"))
SEAT_HOLDING_VALUES = ("pending", "confirmed", "offered")

#: how far ahead the board and the staffing page look
BOARD_DAYS = 21
MAX_ROWS = 200


def posts_needed(*, enrolled: int, children_per_adult: int, min_volunteers: int) -> int:
    """The staffing rule: one adult per children_per_adult children (rounded up), and never fewer than the minimum."""
    return max(min_volunteers, -(-enrolled // max(1, children_per_adult)))


@dataclass(frozen=True)
class Staffing:
    """How a session stands for volunteers: children expected, posts needed, posts held."""

    session_id: int
    enrolled: int
    needed: int
    held: int

    @property
    def open_posts(self) -> int:
        return max(0, self.needed - self.held)

    @property
    def understaffed(self) -> bool:
        return self.open_posts > 0


def _enrolled_count():
    """Seat-holding enrolments covering ProgrammeSession: the programme's (whole mode) or the session's (day mode)."""
    covers = sa.or_(_enrolments.c.session_id == ProgrammeSession.id,
                    sa.and_(_enrolments.c.session_id.is_(None),
                            _enrolments.c.programme_id == ProgrammeSession.programme_id))
    return (sa.select(sa.func.count(_enrolments.c.id))
            .where(covers, _enrolments.c.status.in_(SEAT_HOLDING_VALUES))
            .correlate(ProgrammeSession).scalar_subquery())


def _held_count():
    return (sa.select(sa.func.count(Shift.id))
            .where(Shift.session_id == ProgrammeSession.id, Shift.status == ShiftStatus.HELD)
            .correlate(ProgrammeSession).scalar_subquery())


def staffing_of(session_ids: list[int] | set[int]) -> dict[int, Staffing]:
    """Staffing of each session, in one query (counts are taken now; inside a lock when deciding)."""
    ids = sorted(set(session_ids))
    if not ids:
        return {}
    query = (sa.select(ProgrammeSession.id, Programme.children_per_adult, Programme.min_volunteers,
                       _enrolled_count(), _held_count())
             .join(Programme, Programme.id == ProgrammeSession.programme_id)
             .where(ProgrammeSession.id.in_(ids)))
    out = {}
    for sid, per_adult, minimum, enrolled, held in db.session.execute(query):
        needed = posts_needed(enrolled=int(enrolled or 0), children_per_adult=per_adult, min_volunteers=minimum)
        out[sid] = Staffing(sid, int(enrolled or 0), needed, int(held or 0))
    return out


# ---- applications -----------------------------------------------------------------------------------------------


def approved_community_ids(user_id: int) -> set[int]:
    """The communities where the person is an approved volunteer."""
    query = sa.select(VolunteerApplication.community_id).where(
        VolunteerApplication.user_id == user_id, VolunteerApplication.status == ApplicationStatus.APPROVED)
    return set(db.session.scalars(query))


def is_approved(user_id: int, community_id: int) -> bool:
    return community_id in approved_community_ids(user_id)


def live_application(user_id: int, community_id: int) -> VolunteerApplication | None:
    """The pending or approved application of a person in a community (there is at most one)."""
    return db.session.scalar(sa.select(VolunteerApplication).where(
        VolunteerApplication.user_id == user_id, VolunteerApplication.community_id == community_id,
        VolunteerApplication.status.in_((ApplicationStatus.PENDING, ApplicationStatus.APPROVED))))


def applications_of(actor: User) -> list[VolunteerApplication]:
    """The actor's own applications, newest first, with their communities."""
    query = (sa.select(VolunteerApplication).where(VolunteerApplication.user_id == actor.id)
             .options(joinedload(VolunteerApplication.community))
             .order_by(VolunteerApplication.created_at.desc(), VolunteerApplication.id.desc()))
    return list(db.session.scalars(query))


def _scope(column, actor: User):
    """Restrict a community column to the communities the actor manages (administrators: all)."""
    ids = managed_community_ids(actor)
    return sa.true() if ids is None else column.in_(ids or [-1])


def applications_to_decide(actor: User) -> list[VolunteerApplication]:
    """Pending applications in the communities the actor manages, oldest first."""
    query = (sa.select(VolunteerApplication)
             .where(VolunteerApplication.status == ApplicationStatus.PENDING,
                    _scope(VolunteerApplication.community_id, actor))
             .options(joinedload(VolunteerApplication.user), joinedload(VolunteerApplication.community))
             .order_by(VolunteerApplication.created_at, VolunteerApplication.id).limit(MAX_ROWS))
    return list(db.session.scalars(query))


def approved_volunteers(actor: User) -> dict[int, list[User]]:
    """community id → its approved volunteers (by name), for the communities the actor manages."""
    query = (sa.select(VolunteerApplication.community_id, User)
             .join(User, User.id == VolunteerApplication.user_id)
             .where(VolunteerApplication.status == ApplicationStatus.APPROVED,
                    _scope(VolunteerApplication.community_id, actor))
             .order_by(User.name, User.id))
    out: dict[int, list[User]] = defaultdict(list)
    for community_id, user in db.session.execute(query):
        out[community_id].append(user)
    return out


# ---- sessions, shifts and the board -----------------------------------------------------------------------------


def upcoming_sessions(community_ids: set[int] | None, now: datetime, days: int = BOARD_DAYS) -> list[ProgrammeSession]:
    """Sessions not yet ended in the next `days` days (None: every community), with programme and community."""
    query = (sa.select(ProgrammeSession).join(Programme, Programme.id == ProgrammeSession.programme_id)
             .where(ProgrammeSession.cancelled.is_(False), ProgrammeSession.ends_at > now,
                    ProgrammeSession.starts_at < now + timedelta(days=days))
             .options(joinedload(ProgrammeSession.programme).joinedload(Programme.community),
                      joinedload(ProgrammeSession.venue))
             .order_by(ProgrammeSession.starts_at, ProgrammeSession.id).limit(MAX_ROWS))
    if community_ids is not None:
        query = query.where(Programme.community_id.in_(community_ids or [-1]))
    return list(db.session.scalars(query))


def held_shifts_of(actor: User, now: datetime) -> list[Shift]:
    """The actor's posts in sessions that have not ended more than a day ago (so today's can still be checked out)."""
    query = (sa.select(Shift).join(ProgrammeSession, ProgrammeSession.id == Shift.session_id)
             .where(Shift.volunteer_id == actor.id, Shift.status == ShiftStatus.HELD,
                    ProgrammeSession.ends_at > now - timedelta(days=1))
             .options(joinedload(Shift.session).joinedload(ProgrammeSession.programme)
                      .joinedload(Programme.community), joinedload(Shift.session).joinedload(ProgrammeSession.venue))
             .order_by(ProgrammeSession.starts_at).limit(MAX_ROWS))
    return list(db.session.scalars(query))


@dataclass
class BoardRow:
    """One session on the volunteers' board."""

    session: ProgrammeSession
    staffing: Staffing
    mine: Shift | None
    claim_until: datetime


@dataclass
class Board:
    """What a volunteer sees: sessions of their communities (understaffed first) and their own posts."""

    rows: list[BoardRow] = field(default_factory=list)
    my_shifts: list[Shift] = field(default_factory=list)
    approved_ids: set[int] = field(default_factory=set)


def claim_until(session: ProgrammeSession) -> datetime:
    """The last moment a post in the session may be claimed or released by the volunteer."""
    return session.starts_at - timedelta(hours=session.programme.claim_cutoff_hours)


def board_of(actor: User, now: datetime) -> Board:
    """The board: a bounded number of queries whatever the number of sessions."""
    approved = approved_community_ids(actor.id)
    board = Board(approved_ids=approved)
    if not approved:
        return board
    board.my_shifts = held_shifts_of(actor, now)
    mine = {s.session_id: s for s in board.my_shifts}
    sessions = [s for s in upcoming_sessions(approved, now) if s.starts_at > now]
    staffing = staffing_of([s.id for s in sessions])
    rows = [BoardRow(s, staffing[s.id], mine.get(s.id), claim_until(s)) for s in sessions]
    # Understaffed sessions first, each group in time order.
    rows.sort(key=lambda r: (not r.staffing.understaffed, r.session.starts_at, r.session.id))
    board.rows = rows
    return board


@dataclass
class StaffingRow:
    """One session on the coordinator's staffing page."""

    session: ProgrammeSession
    staffing: Staffing
    shifts: list[Shift]


def staffing_page(actor: User, now: datetime, days: int = BOARD_DAYS) -> list[StaffingRow]:
    """Upcoming sessions of the communities the actor manages, with their staffing and the posts held."""
    sessions = upcoming_sessions(managed_community_ids(actor), now, days)
    ids = [s.id for s in sessions]
    staffing = staffing_of(ids)
    shifts: dict[int, list[Shift]] = defaultdict(list)
    if ids:
        query = (sa.select(Shift).where(Shift.session_id.in_(ids), Shift.status == ShiftStatus.HELD)
                 .options(joinedload(Shift.volunteer)).order_by(Shift.claimed_at, Shift.id))
        for shift in db.session.scalars(query):
            shifts[shift.session_id].append(shift)
    return [StaffingRow(s, staffing[s.id], shifts[s.id]) for s in sessions]


def overlapping_shift(volunteer_id: int, session: ProgrammeSession) -> Shift | None:
    """A post the volunteer holds in another session that overlaps this one in time, if any."""
    query = (sa.select(Shift).join(ProgrammeSession, ProgrammeSession.id == Shift.session_id)
             .where(Shift.volunteer_id == volunteer_id, Shift.status == ShiftStatus.HELD,
                    ProgrammeSession.id != session.id, ProgrammeSession.cancelled.is_(False),
                    ProgrammeSession.starts_at < session.ends_at, ProgrammeSession.ends_at > session.starts_at)
             .limit(1))
    return db.session.scalar(query)


def free_approved_volunteers(community_id: int, session: ProgrammeSession, *, exclude_id: int) -> list[User]:
    """Approved volunteers of the community who hold no post overlapping the session (nor one in it)."""
    busy = (sa.select(Shift.id).join(ProgrammeSession, ProgrammeSession.id == Shift.session_id)
            .where(Shift.volunteer_id == User.id, Shift.status == ShiftStatus.HELD,
                   ProgrammeSession.cancelled.is_(False),
                   ProgrammeSession.starts_at < session.ends_at, ProgrammeSession.ends_at > session.starts_at)
            .correlate(User))
    query = (sa.select(User).join(VolunteerApplication, VolunteerApplication.user_id == User.id)
             .where(VolunteerApplication.community_id == community_id,
                    VolunteerApplication.status == ApplicationStatus.APPROVED,
                    User.active.is_(True), User.id != exclude_id, ~sa.exists(busy))
             .order_by(User.id))
    return list(db.session.scalars(query))


# ---- hours ------------------------------------------------------------------------------------------------------


@dataclass
class HoursLine:
    """One line of a volunteer's ledger, with what it was for."""

    entry: HoursEntry
    community: Community
    programme_title: str

    @property
    def hours(self) -> float:
        return round(self.entry.minutes / 60, 2)


def hours_lines(volunteer_id: int, *, community_ids: set[int] | None = None, start: date | None = None,
                end: date | None = None) -> list[HoursLine]:
    """A volunteer's ledger lines (served shifts and corrections), oldest first, optionally within dates/communities.

    Callers scope it: the volunteer's own id, or a coordinator's managed communities.
    """
    query = (sa.select(HoursEntry, Community, Programme.title)
             .join(Community, Community.id == HoursEntry.community_id)
             .outerjoin(Shift, Shift.id == HoursEntry.shift_id)
             .outerjoin(ProgrammeSession, ProgrammeSession.id == Shift.session_id)
             .outerjoin(Programme, Programme.id == ProgrammeSession.programme_id)
             .where(HoursEntry.volunteer_id == volunteer_id)
             .order_by(HoursEntry.served_on, HoursEntry.id))
    if community_ids is not None:
        query = query.where(HoursEntry.community_id.in_(community_ids or [-1]))
    if start is not None:
        query = query.where(HoursEntry.served_on >= start)
    if end is not None:
        query = query.where(HoursEntry.served_on <= end)
    return [HoursLine(entry, community, title or "") for entry, community, title in db.session.execute(query)]


@dataclass
class Totals:
    """Minutes per community and overall."""

    by_community: list[tuple[Community, int]]
    total_minutes: int

    @property
    def total_hours(self) -> float:
        return round(self.total_minutes / 60, 2)


def totals_of(lines: list[HoursLine]) -> Totals:
    sums: dict[int, int] = defaultdict(int)
    communities: dict[int, Community] = {}
    for line in lines:
        sums[line.community.id] += line.entry.minutes
        communities[line.community.id] = line.community
    by_community = sorted(((communities[cid], minutes) for cid, minutes in sums.items()), key=lambda p: p[0].name)
    return Totals(by_community, sum(sums.values()))


def community_total_minutes(volunteer_id: int, community_id: int) -> int:
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(HoursEntry.minutes), 0))
                                 .where(HoursEntry.volunteer_id == volunteer_id,
                                        HoursEntry.community_id == community_id)) or 0)


def shifts_to_confirm(actor: User, now: datetime, days: int = 14) -> list[Shift]:
    """Held posts in sessions of the actor's communities that started in the last `days` days (to confirm times)."""
    query = (sa.select(Shift).join(ProgrammeSession, ProgrammeSession.id == Shift.session_id)
             .join(Programme, Programme.id == ProgrammeSession.programme_id)
             .where(Shift.status == ShiftStatus.HELD, ProgrammeSession.starts_at <= now,
                    ProgrammeSession.starts_at > now - timedelta(days=days),
                    _scope(Programme.community_id, actor))
             .options(joinedload(Shift.volunteer), joinedload(Shift.session).joinedload(ProgrammeSession.programme))
             .order_by(ProgrammeSession.starts_at.desc(), Shift.id).limit(MAX_ROWS))
    return list(db.session.scalars(query))
