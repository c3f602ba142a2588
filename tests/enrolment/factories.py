"""Factories for enrolment stories: children with their guardians, programmes with sessions, enrolments."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import factory

from childcare.children.models import Child, Guardianship
from childcare.db import db
from childcare.enrolment.models import Enrolment, EnrolmentStatus
from childcare.programmes.models import EnrolmentMode, PriorityGroup, ProgrammeSession
from tests.factories import Base, ProgrammeFactory, UserFactory

LOCAL = ZoneInfo("Asia/Shanghai")


def local(day: date, at: time) -> datetime:
    """A wall-clock time in the community's zone, as an aware datetime."""
    return datetime.combine(day, at, tzinfo=LOCAL)


class ChildFactory(Base):
    """A child; pass guardian=user (or guardians=[...]) to make them the child's guardian."""

    class Meta:
        model = Child

    name = factory.Sequence(lambda n: f"孩子{n}")
    birth_date = factory.LazyFunction(lambda: date.today() - timedelta(days=365 * 8 + 100))
    grade = 2

    @factory.post_generation
    def guardian(self, create, extracted, **kwargs):
        guardians = [extracted] if extracted is not None else []
        for user in guardians or [UserFactory()]:
            db.session.add(Guardianship(child=self, user=user, relation="妈妈"))
        if create:
            db.session.commit()


class ProgrammeWithSessionsFactory(ProgrammeFactory):
    """A programme with one session a day from starts_on to ends_on (three days unless told otherwise)."""

    ends_on = factory.LazyAttribute(lambda o: o.starts_on + timedelta(days=2))

    @factory.post_generation
    def with_sessions(self, create, extracted, **kwargs):
        day = self.starts_on
        while day <= self.ends_on:
            db.session.add(ProgrammeSession(programme=self, on_date=day, starts_at=local(day, self.start_time),
                                            ends_at=local(day, self.end_time), venue_id=self.venue_id))
            day += timedelta(days=1)
        if create:
            db.session.commit()


class DayProgrammeFactory(ProgrammeWithSessionsFactory):
    """Each session booked on its own (day mode)."""

    mode = EnrolmentMode.DAY


class PriorityGroupFactory(Base):
    class Meta:
        model = PriorityGroup

    programme = factory.SubFactory(ProgrammeFactory)
    name = factory.Sequence(lambda n: f"本社区居民{n}")
    rank = 1


class EnrolmentFactory(Base):
    """An enrolment made directly (for a previous term's history, or a seat that is already taken)."""

    class Meta:
        model = Enrolment

    programme = factory.SubFactory(ProgrammeFactory)
    child = factory.SubFactory(ChildFactory)
    status = EnrolmentStatus.CONFIRMED
