"""Factories for the programme tests: calendar entries, sessions, and what may refer to a session."""

from __future__ import annotations

from datetime import UTC, datetime, time

import factory

from childcare.children.models import Child
from childcare.enrolment.models import Leave
from childcare.programmes.models import CalendarDay, ProgrammeSession
from tests.factories import Base, ProgrammeFactory


class CalendarDayFactory(Base):
    class Meta:
        model = CalendarDay

    is_school_day = False
    name = "假日"


class SessionFactory(Base):
    class Meta:
        model = ProgrammeSession

    programme = factory.SubFactory(ProgrammeFactory)
    on_date = factory.LazyAttribute(lambda o: o.programme.starts_on)
    starts_at = factory.LazyAttribute(lambda o: datetime.combine(o.on_date, time(1), tzinfo=UTC))
    ends_at = factory.LazyAttribute(lambda o: datetime.combine(o.on_date, time(4), tzinfo=UTC))


class ChildFactory(Base):
    class Meta:
        model = Child

    name = factory.Sequence(lambda n: f"孩子{n}")


class LeaveFactory(Base):
    """A guardian's advance notice of absence: it makes its session one that is never deleted."""

    class Meta:
        model = Leave

    child = factory.SubFactory(ChildFactory)
    reason = "看病"
