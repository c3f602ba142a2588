"""Daily updates (学习动态): a volunteer's note and photos for the families of a session."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from childcare.accounts.models import User
from childcare.db import db, utcnow
from childcare.programmes.models import ProgrammeSession


class DailyUpdate(db.Model):
    """A short note about one session, seen by the guardians of the children enrolled in it."""

    __tablename__ = "daily_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_sessions.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: hidden by its author or a coordinator; kept for the record
    withdrawn_at: Mapped[datetime | None]

    session: Mapped[ProgrammeSession] = relationship()
    author: Mapped[User | None] = relationship()
    photos: Mapped[list[UpdatePhoto]] = relationship(back_populates="update", order_by="UpdatePhoto.position",
                                                     cascade="all, delete-orphan")


class UpdatePhoto(db.Model):
    """A re-encoded photo, stored outside the static folder, served only to those allowed to see it."""

    __tablename__ = "update_photos"
    __table_args__ = (sa.UniqueConstraint("update_id", "position", name="uq_update_photos_update_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(sa.ForeignKey("daily_updates.id", ondelete="CASCADE"), index=True)
    #: 0..8 in the order uploaded
    position: Mapped[int]
    #: random file name under UPLOAD_FOLDER; never derived from the upload's name
    storage_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    update: Mapped[DailyUpdate] = relationship(back_populates="photos")
