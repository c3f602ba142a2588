"""Attendance: an append-only event log per child and session, the current state beside it, and alerts."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from childcare.accounts.models import User
from childcare.children.models import Child
from childcare.db import db, str_enum, utcnow
from childcare.programmes.models import ProgrammeSession


class AttendanceState(enum.StrEnum):
    """Where a child stands in a session right now."""

    EXPECTED = "expected"
    PRESENT = "present"
    LATE = "late"
    ABSENT = "absent"
    EXCUSED = "excused"
    CHECKED_OUT = "checked_out"

    @property
    def title(self) -> str:
        return str({AttendanceState.EXPECTED: _l("Expected"), AttendanceState.PRESENT: _l("Present"),
                    AttendanceState.LATE: _l("Present (late)"), AttendanceState.ABSENT: _l("Absent"),
                    AttendanceState.EXCUSED: _l("Excused (on leave)"),
                    AttendanceState.CHECKED_OUT: _l("Gone home")}[self])


class EventKind(enum.StrEnum):
    """What one attendance write did."""

    CHECKED_IN = "checked_in"
    MARKED_ABSENT = "marked_absent"
    CHECKED_OUT = "checked_out"
    CORRECTED = "corrected"


class EventSource(enum.StrEnum):
    """Where the write came from."""

    ROSTER = "roster"
    QR = "qr"
    PAPER = "paper"
    API = "api"


class PickupKind(enum.StrEnum):
    """Who took the child home."""

    GUARDIAN = "guardian"
    PICKUP_PERSON = "pickup_person"
    ALONE = "alone"
    OVERRIDE = "override"


class AttendanceEvent(db.Model):
    """One attendance write; never changed or deleted (a correction is a new event with a reason)."""

    __tablename__ = "attendance_events"
    __table_args__ = (sa.Index("ix_attendance_events_session_child", "session_id", "child_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_sessions.id", ondelete="CASCADE"))
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"), index=True)
    kind: Mapped[EventKind] = mapped_column(str_enum(EventKind))
    source: Mapped[EventSource] = mapped_column(str_enum(EventSource), default=EventSource.ROSTER)
    #: the state before and after this event
    previous_state: Mapped[AttendanceState] = mapped_column(str_enum(AttendanceState))
    new_state: Mapped[AttendanceState] = mapped_column(str_enum(AttendanceState))
    #: when it happened (a paper sheet entered later carries the time written on it)
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    pickup_kind: Mapped[PickupKind | None] = mapped_column(str_enum(PickupKind))
    pickup_guardian_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    pickup_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pickup_persons.id", ondelete="SET NULL"))
    #: the name written down at pick-up (kept even if the pickup person is later removed)
    pickup_name: Mapped[str] = mapped_column(sa.String(60), default="")
    #: required for corrections and coordinator overrides
    reason: Mapped[str] = mapped_column(sa.String(300), default="")

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])


class AttendanceRecord(db.Model):
    """The current state of one child in one session, kept in step with the event log."""

    __tablename__ = "attendance_records"
    __table_args__ = (sa.UniqueConstraint("session_id", "child_id", name="uq_attendance_records_session_child"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_sessions.id", ondelete="CASCADE"), index=True)
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"), index=True)
    state: Mapped[AttendanceState] = mapped_column(str_enum(AttendanceState))
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    #: "who took the child home", as shown on the roster
    picked_up_by: Mapped[str] = mapped_column(sa.String(60), default="")
    #: the event that produced this state
    last_event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("attendance_events.id", ondelete="SET NULL"))
    #: optimistic lock: two volunteers tapping at once cannot both win silently
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    from_paper: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    __mapper_args__ = {"version_id_col": version}

    session: Mapped[ProgrammeSession] = relationship()
    child: Mapped[Child] = relationship()


class AlertKind(enum.StrEnum):
    """Alerts raised by the jobs."""

    ABSENT = "absent"
    NOT_CHECKED_OUT = "not_checked_out"


class AttendanceAlert(db.Model):
    """One alert per child, session and kind, however often the job runs."""

    __tablename__ = "attendance_alerts"
    __table_args__ = (sa.UniqueConstraint("session_id", "child_id", "kind", name="uq_attendance_alerts_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_sessions.id", ondelete="CASCADE"), index=True)
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"))
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class AppendOnlyAttendanceError(RuntimeError):
    """Raised when code tries to change or delete an attendance event."""


@event.listens_for(Session, "before_flush")
def _refuse_event_changes(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AttendanceEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyAttendanceError("attendance events are append-only")
