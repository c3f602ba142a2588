"""Factories for attendance stories: a session at a local time, children with seats, volunteers with posts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import factory

from childcare.accounts.models import Role
from childcare.db import db
from childcare.enrolment.models import Enrolment, EnrolmentStatus, Leave
from childcare.programmes.models import Programme, ProgrammeSession
from childcare.volunteers.models import Shift, ShiftStatus
from tests.children.factories import ChildFactory, PickupPersonFactory
from tests.factories import Base, CoordinatorFactory, ProgrammeFactory, UserFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")

__all__ = ["ChildFactory", "PickupPersonFactory", "CoordinatorFactory", "ShiftFactory", "LeaveFactory",
           "VolunteerFactory", "local", "session_at", "enrol", "Classroom"]


def local(day: date, at: time) -> datetime:
    """A wall-clock time in Shanghai, as an aware UTC instant."""
    return datetime.combine(day, at, SHANGHAI).astimezone(UTC)


def session_at(programme: Programme, day: date, start: time, end: time) -> ProgrammeSession:
    """A session of the programme from start to end local time on day (end before start means past midnight)."""
    ends_day = day + timedelta(days=1) if end <= start else day
    session = ProgrammeSession(programme_id=programme.id, on_date=day, starts_at=local(day, start),
                               ends_at=local(ends_day, end), venue_id=programme.venue_id)
    db.session.add(session)
    db.session.commit()
    return session


def enrol(child, programme: Programme, session: ProgrammeSession | None = None,
          status: EnrolmentStatus = EnrolmentStatus.CONFIRMED) -> Enrolment:
    """A seat for the child: in the whole programme, or (day mode) in one session."""
    enrolment = Enrolment(programme_id=programme.id, child_id=child.id, status=status,
                          session_id=session.id if session is not None else None)
    db.session.add(enrolment)
    db.session.commit()
    return enrolment


def VolunteerFactory(**fields):  # noqa: N802 (reads like the other factories)
    """A person with the volunteer role (approval per community belongs to the volunteers feature)."""
    return UserFactory(roles=[Role.VOLUNTEER], **fields)


class ShiftFactory(Base):
    """A held post in a session (made directly, as the claim screen would)."""

    class Meta:
        model = Shift

    session_id = None
    volunteer = factory.LazyFunction(VolunteerFactory)
    status = ShiftStatus.HELD


class LeaveFactory(Base):
    class Meta:
        model = Leave

    reason = "看病"


class Classroom:
    """A programme with one session, its coordinator and a volunteer on duty; children are added with seat()."""

    def __init__(self, *, day: date | None = None, start: time = time(16, 30), end: time = time(18, 30),
                 **programme_fields):
        self.day = day or date.today()
        self.programme = ProgrammeFactory(starts_on=self.day, ends_on=self.day + timedelta(days=30),
                                          start_time=start, end_time=end if end > start else time(23, 59),
                                          **programme_fields)
        self.session = session_at(self.programme, self.day, start, end)
        self.coordinator = CoordinatorFactory(community=self.programme.community)
        self.volunteer = VolunteerFactory()
        ShiftFactory(session_id=self.session.id, volunteer=self.volunteer)

    def seat(self, name: str, *, guardian=None, **child_fields):
        """A child with a guardian and a confirmed seat in the programme."""
        guardian = guardian or UserFactory()
        child = ChildFactory(name=name, guardian=guardian, **child_fields)
        enrol(child, self.programme)
        return child
