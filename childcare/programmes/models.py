"""Programmes: one after-school term or one holiday camp, run by a community."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from childcare.db import db, utcnow
from childcare.places.models import Community, Venue


class ProgrammeKind(enum.StrEnum):
    """四点半课堂 runs on school days; a holiday camp runs on a date range."""

    AFTER_SCHOOL = "after_school"
    HOLIDAY_CAMP = "holiday_camp"

    @property
    def title(self) -> str:
        return str({ProgrammeKind.AFTER_SCHOOL: _l("After-school class"),
                    ProgrammeKind.HOLIDAY_CAMP: _l("Holiday camp")}[self])


class Programme(db.Model):
    """One after-school term or one camp, with its capacity and schedule."""

    __tablename__ = "programmes"
    __table_args__ = (
        sa.CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        sa.CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
        sa.CheckConstraint("end_time > start_time", name="times_ordered"),
        sa.CheckConstraint("fee_cents >= 0", name="fee_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id", ondelete="RESTRICT"), index=True)
    venue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("venues.id", ondelete="SET NULL"), index=True)
    kind: Mapped[ProgrammeKind] = mapped_column(sa.Enum(ProgrammeKind, native_enum=False, length=20,
                                                        values_callable=lambda e: [m.value for m in e]))
    title: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: comma-separated course themes, e.g. 阅读分享,安全教育
    themes: Mapped[str] = mapped_column(sa.String(400), default="")
    capacity: Mapped[int]
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    start_time: Mapped[time]
    end_time: Mapped[time]
    #: 0 = free (无偿); otherwise a low fee (低偿) in fen
    fee_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    registration_opens_at: Mapped[datetime | None]
    registration_closes_at: Mapped[datetime | None]
    #: hidden from parents until published
    published: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    community: Mapped[Community] = relationship()
    venue: Mapped[Venue | None] = relationship()

    @property
    def theme_list(self) -> list[str]:
        return [t.strip() for t in self.themes.split(",") if t.strip()]

    @property
    def fee_yuan(self) -> str:
        return f"{self.fee_cents / 100:.2f}".rstrip("0").rstrip(".")
