"""Volunteers: applications per community, shifts (posts in a session) and the hours ledger."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from childcare.accounts.models import User
from childcare.db import db, str_enum, utcnow
from childcare.places.models import Community
from childcare.programmes.models import ProgrammeSession


class VolunteerKind(enum.StrEnum):
    """Who volunteers, as communities report it."""

    STUDENT = "student"
    RETIRED_CADRE = "retired_cadre"
    PARTY_MEMBER = "party_member"
    RESIDENT = "resident"
    OTHER = "other"

    @property
    def title(self) -> str:
        return str({VolunteerKind.STUDENT: _l("University student home for the holidays"),
                    VolunteerKind.RETIRED_CADRE: _l("Retired cadre"),
                    VolunteerKind.PARTY_MEMBER: _l("Working Party member registered here"),
                    VolunteerKind.RESIDENT: _l("Resident"),
                    VolunteerKind.OTHER: _l("Other")}[self])


class ApplicationStatus(enum.StrEnum):
    """A coordinator decides each application; only approved volunteers serve."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"

    @property
    def title(self) -> str:
        return str({ApplicationStatus.PENDING: _l("Awaiting approval"), ApplicationStatus.APPROVED: _l("Approved"),
                    ApplicationStatus.DECLINED: _l("Declined"), ApplicationStatus.WITHDRAWN: _l("Withdrawn")}[self])


class VolunteerApplication(db.Model):
    """A person's offer to volunteer in one community; approval is per community."""

    __tablename__ = "volunteer_applications"
    __table_args__ = (
        sa.Index("uq_volunteer_applications_live", "user_id", "community_id", unique=True,
                 postgresql_where=sa.text("status IN ('pending', 'approved')"),
                 sqlite_where=sa.text("status IN ('pending', 'approved')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    kind: Mapped[VolunteerKind] = mapped_column(str_enum(VolunteerKind))
    #: school (students) or employer / former work unit
    organisation: Mapped[str] = mapped_column(sa.String(120), default="")
    skills: Mapped[str] = mapped_column(sa.String(500), default="")
    availability: Mapped[str] = mapped_column(sa.String(500), default="")
    status: Mapped[ApplicationStatus] = mapped_column(str_enum(ApplicationStatus), default=ApplicationStatus.PENDING)
    #: the coordinator's note on the decision, shown to the applicant
    decision_note: Mapped[str] = mapped_column(sa.String(500), default="")
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    community: Mapped[Community] = relationship()


class ShiftStatus(enum.StrEnum):
    """A post held (claimed or assigned), or given up."""

    HELD = "held"
    RELEASED = "released"
    REMOVED = "removed"


class Shift(db.Model):
    """A volunteer's post (岗位) in one session; checked in and out for the hours ledger."""

    __tablename__ = "shifts"
    __table_args__ = (
        sa.Index("uq_shifts_live_session_volunteer", "session_id", "volunteer_id", unique=True,
                 postgresql_where=sa.text("status = 'held'"), sqlite_where=sa.text("status = 'held'")),
        sa.Index("ix_shifts_volunteer_status", "volunteer_id", "status"),
        sa.CheckConstraint("checked_out_at IS NULL OR checked_in_at IS NOT NULL", name="out_after_in"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_sessions.id", ondelete="CASCADE"), index=True)
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[ShiftStatus] = mapped_column(str_enum(ShiftStatus), default=ShiftStatus.HELD)
    #: None when the volunteer claimed it; the coordinator when assigned
    assigned_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    #: a coordinator who confirmed the times (instead of the volunteer's own check-in/out)
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    session: Mapped[ProgrammeSession] = relationship()
    volunteer: Mapped[User] = relationship(foreign_keys=[volunteer_id])


class HoursEntry(db.Model):
    """One line of the volunteer-hours ledger (志愿服务时长): a served shift or a correction."""

    __tablename__ = "volunteer_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    shift_id: Mapped[int | None] = mapped_column(sa.ForeignKey("shifts.id", ondelete="SET NULL"), unique=True)
    #: the local date the hours were served
    served_on: Mapped[date]
    #: positive for service, negative or positive for a correction
    minutes: Mapped[int]
    #: a correction's reason (required for corrections)
    reason: Mapped[str] = mapped_column(sa.String(300), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    volunteer: Mapped[User] = relationship(foreign_keys=[volunteer_id])
    community: Mapped[Community] = relationship()
