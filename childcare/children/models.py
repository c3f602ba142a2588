"""Children, the guardians who share them, pickup persons and consent records."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from childcare.accounts.models import User
from childcare.db import db, utcnow


class Gender(enum.StrEnum):
    """As the API spells it."""

    FEMALE = "female"
    MALE = "male"

    @property
    def title(self) -> str:
        return str({Gender.FEMALE: _l("Girl"), Gender.MALE: _l("Boy")}[self])


class Child(db.Model):
    """A child (a minor: sensitive data, seen only by guardians and the staff of their sessions)."""

    __tablename__ = "children"
    __table_args__ = (sa.CheckConstraint("grade IS NULL OR (grade >= 0 AND grade <= 9)", name="grade_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    gender: Mapped[Gender | None] = mapped_column(sa.Enum(Gender, native_enum=False, length=10,
                                                          values_callable=lambda e: [m.value for m in e]))
    birth_date: Mapped[date | None]
    school: Mapped[str] = mapped_column(sa.String(120), default="")
    #: 0 = kindergarten, 1–6 primary, 7–9 junior middle
    grade: Mapped[int | None]
    allergies: Mapped[str] = mapped_column(sa.String(500), default="")
    medical_notes: Mapped[str] = mapped_column(sa.String(1000), default="")
    special_needs: Mapped[str] = mapped_column(sa.String(1000), default="")
    #: the guardian allows photos of this child in daily updates
    photo_consent: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: the guardian allows the child to leave without being picked up
    may_go_home_alone: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    emergency_contact_name: Mapped[str] = mapped_column(sa.String(60), default="")
    emergency_contact_phone: Mapped[str] = mapped_column(sa.String(20), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: set when a guardian removed a child with history: the personal fields are blanked
    anonymised_at: Mapped[datetime | None]

    guardianships: Mapped[list[Guardianship]] = relationship(back_populates="child", cascade="all, delete-orphan")
    pickup_persons: Mapped[list[PickupPerson]] = relationship(back_populates="child", cascade="all, delete-orphan",
                                                              order_by="PickupPerson.id")


class Guardianship(db.Model):
    """A guardian of a child; a child may have several, all equal."""

    __tablename__ = "guardianships"
    __table_args__ = (sa.UniqueConstraint("child_id", "user_id", name="uq_guardianships_child_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: e.g. 妈妈, 爸爸, 奶奶
    relation: Mapped[str] = mapped_column(sa.String(30), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    child: Mapped[Child] = relationship(back_populates="guardianships")
    user: Mapped[User] = relationship()


class GuardianInvitation(db.Model):
    """A guardian invites a second guardian by phone; it takes effect when they accept."""

    __tablename__ = "guardian_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"), index=True)
    invited_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    #: E.164 phone of the person invited
    phone: Mapped[str] = mapped_column(sa.String(20), index=True)
    relation: Mapped[str] = mapped_column(sa.String(30), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]

    child: Mapped[Child] = relationship()


class PickupPerson(db.Model):
    """Someone the guardians authorise to take the child home, or block from doing so."""

    __tablename__ = "pickup_persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    relation: Mapped[str] = mapped_column(sa.String(30), default="")
    phone: Mapped[str] = mapped_column(sa.String(20), default="")
    #: a blocked person is refused at check-out, with a warning (e.g. a custody decision)
    blocked: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    child: Mapped[Child] = relationship(back_populates="pickup_persons")


class ConsentRecord(db.Model):
    """A guardian's separate consent to process a minor's personal information (who, when, which text)."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int | None] = mapped_column(sa.ForeignKey("children.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: version of the consent text the guardian saw, e.g. minor-pi-2026-01
    text_version: Mapped[str] = mapped_column(sa.String(40))
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
