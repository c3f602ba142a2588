"""Programmes (one after-school term or one holiday camp) and their sessions (课次)."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from childcare.db import db, str_enum, utcnow
from childcare.places.models import Community, Venue


class ProgrammeKind(enum.StrEnum):
    """四点半课堂 runs on school days; a holiday camp runs on a date range."""

    AFTER_SCHOOL = "after_school"
    HOLIDAY_CAMP = "holiday_camp"

    @property
    def title(self) -> str:
        return str({ProgrammeKind.AFTER_SCHOOL: _l("After-school class"),
                    ProgrammeKind.HOLIDAY_CAMP: _l("Holiday camp")}[self])


class EnrolmentMode(enum.StrEnum):
    """Whole: one seat for every session. Day: each session is booked on its own."""

    WHOLE = "whole"
    DAY = "day"

    @property
    def title(self) -> str:
        return str({EnrolmentMode.WHOLE: _l("Whole programme"), EnrolmentMode.DAY: _l("Day booking")}[self])


class Allocation(enum.StrEnum):
    """First come, first served (先报先得) or a draw at the close of an application window."""

    FIRST_COME = "first_come"
    DRAW = "draw"

    @property
    def title(self) -> str:
        return str({Allocation.FIRST_COME: _l("First come, first served"),
                    Allocation.DRAW: _l("Draw after the application window")}[self])


class Promotion(enum.StrEnum):
    """When a seat frees: confirm the next child at once, or offer the seat for a while."""

    AUTO = "auto"
    OFFER = "offer"

    @property
    def title(self) -> str:
        return str({Promotion.AUTO: _l("Confirm the next child automatically"),
                    Promotion.OFFER: _l("Offer the seat to the next family")}[self])


class Programme(db.Model):
    """One after-school term or one camp, with its capacity, eligibility and schedule."""

    __tablename__ = "programmes"
    __table_args__ = (
        sa.CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        sa.CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
        sa.CheckConstraint("end_time > start_time", name="times_ordered"),
        sa.CheckConstraint("fee_cents >= 0", name="fee_not_negative"),
        sa.CheckConstraint("offer_hours > 0", name="offer_hours_positive"),
        sa.CheckConstraint("min_age IS NULL OR max_age IS NULL OR min_age <= max_age", name="ages_ordered"),
        sa.CheckConstraint("min_grade IS NULL OR max_grade IS NULL OR min_grade <= max_grade", name="grades_ordered"),
        sa.CheckConstraint("children_per_adult > 0", name="ratio_positive"),
        sa.CheckConstraint("min_volunteers >= 0", name="min_volunteers_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id", ondelete="RESTRICT"), index=True)
    venue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("venues.id", ondelete="SET NULL"), index=True)
    kind: Mapped[ProgrammeKind] = mapped_column(str_enum(ProgrammeKind))
    title: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: comma-separated course themes, e.g. 阅读分享,安全教育
    themes: Mapped[str] = mapped_column(sa.String(400), default="")
    #: seats for the whole programme (whole mode) or the default per session (day mode)
    capacity: Mapped[int]
    mode: Mapped[EnrolmentMode] = mapped_column(str_enum(EnrolmentMode), default=EnrolmentMode.WHOLE,
                                                server_default=EnrolmentMode.WHOLE.value)
    allocation: Mapped[Allocation] = mapped_column(str_enum(Allocation), default=Allocation.FIRST_COME,
                                                   server_default=Allocation.FIRST_COME.value)
    promotion: Mapped[Promotion] = mapped_column(str_enum(Promotion), default=Promotion.AUTO,
                                                 server_default=Promotion.AUTO.value)
    #: how long an offered seat is held for the family to accept
    offer_hours: Mapped[int] = mapped_column(default=24, server_default="24")
    needs_approval: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    #: ISO weekdays the class runs, "1,2,3,4,5" (after-school) or all days (camp)
    weekdays: Mapped[str] = mapped_column(sa.String(20), default="1,2,3,4,5", server_default="1,2,3,4,5")
    #: extra dates without a session, ISO strings (e.g. Spring Festival days)
    excluded_dates: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    start_time: Mapped[time]
    end_time: Mapped[time]
    #: ages in whole years on the first day, inclusive; None = no limit
    min_age: Mapped[int | None]
    max_age: Mapped[int | None]
    #: school grades 0 (kindergarten) to 9, inclusive; None = no limit
    min_grade: Mapped[int | None]
    max_grade: Mapped[int | None]
    #: 0 = free (无偿); otherwise a low fee (低偿) in fen
    fee_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    registration_opens_at: Mapped[datetime | None]
    registration_closes_at: Mapped[datetime | None]
    #: hidden from parents until published
    published: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    #: the term before this one; its unsuccessful families may get precedence in a draw
    previous_programme_id: Mapped[int | None] = mapped_column(sa.ForeignKey("programmes.id", ondelete="SET NULL"))
    previous_unsuccessful_first: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: staffing: one adult per this many enrolled children (e.g. 10 for 10:1)
    children_per_adult: Mapped[int] = mapped_column(default=10, server_default="10")
    #: staffing: at least this many volunteers in every session
    min_volunteers: Mapped[int] = mapped_column(default=1, server_default="1")
    #: volunteers may claim or release a post until this many hours before the session
    claim_cutoff_hours: Mapped[int] = mapped_column(default=2, server_default="2")
    #: stop taking new enrolments while confirmed volunteers fall short of the ratio
    pause_enrolment_when_understaffed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: a check-in later than start + this many minutes counts as late
    late_after_minutes: Mapped[int] = mapped_column(default=10, server_default="10")
    #: minutes after start when expected children not checked in raise an absence alert
    absence_alert_minutes: Mapped[int] = mapped_column(default=15, server_default="15")
    #: minutes after the end when children checked in but not out raise an alert
    sweep_after_minutes: Mapped[int] = mapped_column(default=20, server_default="20")
    #: the published seed of the draw (公示), set when the draw runs
    draw_seed: Mapped[str | None] = mapped_column(sa.String(64))
    drawn_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    community: Mapped[Community] = relationship()
    venue: Mapped[Venue | None] = relationship()
    sessions: Mapped[list[ProgrammeSession]] = relationship(back_populates="programme",
                                                            order_by="ProgrammeSession.starts_at")
    priority_groups: Mapped[list[PriorityGroup]] = relationship(back_populates="programme",
                                                                order_by="PriorityGroup.rank",
                                                                cascade="all, delete-orphan")
    previous_programme: Mapped[Programme | None] = relationship(remote_side="Programme.id",
                                                                foreign_keys=[previous_programme_id])

    @property
    def theme_list(self) -> list[str]:
        return [t.strip() for t in self.themes.split(",") if t.strip()]

    @property
    def weekday_list(self) -> list[int]:
        return [int(d) for d in self.weekdays.split(",") if d.strip()]

    @property
    def excluded_date_list(self) -> list[date]:
        return sorted(date.fromisoformat(d) for d in self.excluded_dates or [])

    @property
    def fee_yuan(self) -> str:
        return f"{self.fee_cents / 100:.2f}".rstrip("0").rstrip(".")


class ProgrammeSession(db.Model):
    """One occurrence (课次): a date, start and end, a venue; in day mode it has its own seats."""

    __tablename__ = "programme_sessions"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="times_ordered"),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
        sa.UniqueConstraint("programme_id", "starts_at", name="uq_programme_sessions_programme_starts_at"),
        sa.Index("ix_programme_sessions_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    #: local calendar date of the session (the day it runs where the community is)
    on_date: Mapped[date]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    venue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("venues.id", ondelete="SET NULL"))
    #: day mode: seats of this session; None = the programme's capacity
    capacity: Mapped[int | None]
    cancelled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    note: Mapped[str] = mapped_column(sa.String(200), default="")

    programme: Mapped[Programme] = relationship(back_populates="sessions")
    venue: Mapped[Venue | None] = relationship()


class PriorityGroup(db.Model):
    """A group promoted first (lower rank first), e.g. children living in this community."""

    __tablename__ = "priority_groups"
    __table_args__ = (sa.UniqueConstraint("programme_id", "rank", name="uq_priority_groups_programme_rank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    rank: Mapped[int]

    programme: Mapped[Programme] = relationship(back_populates="priority_groups")


class CalendarDay(db.Model):
    """A coordinator's entry for a date the holiday package does not know (a new year's 调休)."""

    __tablename__ = "calendar_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    on_date: Mapped[date] = mapped_column(unique=True)
    #: True for an official make-up working day, False for a public holiday
    is_school_day: Mapped[bool]
    name: Mapped[str] = mapped_column(sa.String(80), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
