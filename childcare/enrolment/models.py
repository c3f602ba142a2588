"""Enrolments (报名), waiting-list places, offers, and leave (请假)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from childcare.children.models import Child
from childcare.db import db, utcnow
from childcare.programmes.models import Programme, ProgrammeSession


class EnrolmentStatus(enum.StrEnum):
    """Where an enrolment stands; see SEAT_HOLDING and ENDED for what each status means for seats."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    OFFERED = "offered"
    WAITLISTED = "waitlisted"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REMOVED = "removed"

    @property
    def title(self) -> str:
        return str(STATUS_TITLES[self])

    @property
    def holds_seat(self) -> bool:
        return self in SEAT_HOLDING

    @property
    def is_live(self) -> bool:
        return self not in ENDED


STATUS_TITLES = {
    EnrolmentStatus.PENDING: _l("Awaiting approval"),
    EnrolmentStatus.CONFIRMED: _l("Confirmed"),
    EnrolmentStatus.OFFERED: _l("Seat offered"),
    EnrolmentStatus.WAITLISTED: _l("On the waiting list"),
    EnrolmentStatus.DECLINED: _l("Offer declined"),
    EnrolmentStatus.EXPIRED: _l("Offer expired"),
    EnrolmentStatus.CANCELLED: _l("Cancelled"),
    EnrolmentStatus.REMOVED: _l("Removed by the coordinator"),
}

#: The one place that decides which statuses hold a seat (seats_left = capacity − these).
SEAT_HOLDING = frozenset({EnrolmentStatus.PENDING, EnrolmentStatus.CONFIRMED, EnrolmentStatus.OFFERED})
#: Ended statuses hold nothing and keep their history; the child may enrol again.
ENDED = frozenset({EnrolmentStatus.DECLINED, EnrolmentStatus.EXPIRED, EnrolmentStatus.CANCELLED,
                   EnrolmentStatus.REMOVED})
LIVE = frozenset(set(EnrolmentStatus) - ENDED)

_LIVE_SQL = "status IN ('pending', 'confirmed', 'offered', 'waitlisted')"


class Enrolment(db.Model):
    """A child in a programme (whole mode) or in one session (day mode)."""

    __tablename__ = "enrolments"
    __table_args__ = (
        # One live enrolment per child and programme (whole mode) or per child and session (day mode):
        # the database's last line of defence against double clicks and two guardians at once. The programme (or
        # session) leads: the recount inside the seat lock reads these indexes by it, and led by the child it
        # walked every live enrolment of every programme.
        sa.Index("uq_enrolments_live_child_programme", "programme_id", "child_id", unique=True,
                 postgresql_where=sa.text(f"session_id IS NULL AND {_LIVE_SQL}"),
                 sqlite_where=sa.text(f"session_id IS NULL AND {_LIVE_SQL}")),
        sa.Index("uq_enrolments_live_child_session", "session_id", "child_id", unique=True,
                 postgresql_where=sa.text(f"session_id IS NOT NULL AND {_LIVE_SQL}"),
                 sqlite_where=sa.text(f"session_id IS NOT NULL AND {_LIVE_SQL}")),
        sa.Index("ix_enrolments_programme_status", "programme_id", "status"),
        sa.Index("ix_enrolments_session_status", "session_id", "status"),
        sa.CheckConstraint("status <> 'offered' OR offer_expires_at IS NOT NULL", name="offer_has_expiry"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("programmes.id", ondelete="CASCADE"))
    #: day mode only: the session booked
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("programme_sessions.id", ondelete="CASCADE"))
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"), index=True)
    status: Mapped[EnrolmentStatus] = mapped_column(sa.Enum(EnrolmentStatus, native_enum=False, length=20,
                                                            values_callable=lambda e: [m.value for m in e]))
    #: waiting-list order is (priority, queued_at, id); lower priority numbers go first
    priority: Mapped[int] = mapped_column(default=100, server_default="100")
    priority_group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("priority_groups.id", ondelete="SET NULL"))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: draw allocation: the place this application drew (1 = first); None outside a draw
    draw_rank: Mapped[int | None]
    offer_expires_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None]
    #: why it ended (the guardian's or coordinator's words)
    end_reason: Mapped[str] = mapped_column(sa.String(300), default="")

    programme: Mapped[Programme] = relationship()
    session: Mapped[ProgrammeSession | None] = relationship()
    child: Mapped[Child] = relationship()


class Leave(db.Model):
    """A guardian's advance notice that a child will miss a session (请假); attendance shows it excused."""

    __tablename__ = "leaves"
    __table_args__ = (sa.UniqueConstraint("child_id", "session_id", name="uq_leaves_child_session"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_sessions.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]

    session: Mapped[ProgrammeSession] = relationship()
    child: Mapped[Child] = relationship()
