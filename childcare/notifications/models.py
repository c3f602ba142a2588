"""In-app notifications and the outbox of messages that leave the system after commit."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from childcare.db import db, str_enum, utcnow


class Channel(enum.StrEnum):
    """How a message leaves the system."""

    SMS = "sms"
    EMAIL = "email"


class OutboxStatus(enum.StrEnum):
    """Delivery state of one outgoing message."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"



class Notification(db.Model):
    """One message in a person's inbox; rendered in the reader's language when shown."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    #: dotted, e.g. enrolment.confirmed; selects the message template
    kind: Mapped[str] = mapped_column(sa.String(80))
    #: values the template needs (names, titles, times as ISO strings)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: an in-site path the notification points at
    link: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class OutboxMessage(db.Model):
    """A message for a gateway, written in the same transaction as the change it reports."""

    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_messages_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notifications.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    #: phone number or e-mail address at the time of writing
    recipient: Mapped[str] = mapped_column(sa.String(200))
    #: rendered text in the recipient's language: {"subject": ..., "body": ...}
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[OutboxStatus] = mapped_column(str_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    notification: Mapped[Notification | None] = relationship()
