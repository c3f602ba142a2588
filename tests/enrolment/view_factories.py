"""Factories for the enrolment screens' tests: children with a guardian, sessions, enrolments and leave."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import factory

from childcare.children.models import Child, Guardianship
from childcare.db import db
from childcare.enrolment.models import Enrolment, EnrolmentStatus, Leave
from childcare.programmes.models import Programme, ProgrammeSession
from tests.factories import Base, ProgrammeFactory, UserFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


class ChildFactory(Base):
    """A child; pass guardian=<User> to make them its guardian (a new guardian otherwise)."""

    class Meta:
        model = Child

    name = factory.Sequence(lambda n: f"小明{n}")
    grade = 3

    @factory.post_generation
    def guardian(self, create, extracted, **kwargs):
        user = extracted or UserFactory()
        self.guardianships.append(Guardianship(user_id=user.id, relation="妈妈"))
        if create:
            db.session.commit()


def fresh(obj):
    """The object again from the test's session (a request's teardown detaches what the test held)."""
    return db.session.get(type(obj), obj.id, populate_existing=True)


def add_sessions(programme: Programme, count: int | None = None, *, capacity: int | None = None,
                 start: time | None = None, end: time | None = None, skip_days: int = 0) -> list[ProgrammeSession]:
    """Sessions on consecutive days from the programme's first day (count defaults to every day of it)."""
    days = count if count is not None else (programme.ends_on - programme.starts_on).days + 1
    sessions = []
    for offset in range(skip_days, skip_days + days):
        day = programme.starts_on + timedelta(days=offset)
        starts = datetime.combine(day, start or programme.start_time, SHANGHAI).astimezone(UTC)
        ends = datetime.combine(day, end or programme.end_time, SHANGHAI).astimezone(UTC)
        session = ProgrammeSession(programme_id=programme.id, on_date=day, starts_at=starts, ends_at=ends,
                                   venue_id=programme.venue_id, capacity=capacity)
        db.session.add(session)
        sessions.append(session)
    db.session.commit()
    return sessions


def programme_with_sessions(sessions: int = 3, **kwargs) -> Programme:
    """A published programme with some sessions."""
    programme = ProgrammeFactory(**kwargs)
    add_sessions(programme, sessions)
    return programme


class EnrolmentFactory(Base):
    """An enrolment written directly (bypassing the services), for screens that only show them."""

    class Meta:
        model = Enrolment

    programme = factory.SubFactory(ProgrammeFactory)
    child = factory.SubFactory(ChildFactory)
    status = EnrolmentStatus.CONFIRMED
    offer_expires_at = factory.LazyAttribute(
        lambda o: datetime.now(UTC) + timedelta(hours=24) if o.status == EnrolmentStatus.OFFERED else None)


class LeaveFactory(Base):
    class Meta:
        model = Leave

    reason = "感冒"
