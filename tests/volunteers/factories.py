"""Factories for volunteer stories: applications, sessions at a given time, posts (shifts) and hours."""

from __future__ import annotations

from datetime import datetime, timedelta

import factory

from childcare.accounts.models import Role, RoleGrant
from childcare.db import db, utcnow
from childcare.programmes.models import ProgrammeSession
from childcare.volunteers.models import ApplicationStatus, HoursEntry, Shift, VolunteerApplication, VolunteerKind
from tests.enrolment.factories import LOCAL, EnrolmentFactory
from tests.factories import Base, CommunityFactory, ProgrammeFactory, UserFactory


class ApplicationFactory(Base):
    class Meta:
        model = VolunteerApplication

    user = factory.SubFactory(UserFactory)
    community = factory.SubFactory(CommunityFactory)
    kind = VolunteerKind.STUDENT
    organisation = "山西大学"
    status = ApplicationStatus.PENDING


def volunteer_of(*communities, name: str | None = None):
    """A person approved as a volunteer in each of the communities (and holding the volunteer role)."""
    user = UserFactory(**({"name": name} if name else {}))
    user.grants.append(RoleGrant(role=Role.VOLUNTEER))
    for community in communities:
        ApplicationFactory(user=user, community=community, status=ApplicationStatus.APPROVED)
    db.session.commit()
    return user


class SessionFactory(Base):
    """A session starting at `starts_at` (default: in three days), three hours long."""

    class Meta:
        model = ProgrammeSession

    programme = factory.SubFactory(ProgrammeFactory)
    starts_at = factory.LazyFunction(lambda: utcnow().replace(microsecond=0) + timedelta(days=3))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=3))
    on_date = factory.LazyAttribute(lambda o: o.starts_at.astimezone(LOCAL).date())


def session_at(starts_at: datetime | None = None, *, hours: int = 3, programme=None, **programme_kwargs):
    """A session (of a new programme unless one is given) from starts_at, `hours` long."""
    programme = programme or ProgrammeFactory(**programme_kwargs)
    starts_at = starts_at or utcnow().replace(microsecond=0) + timedelta(days=3)
    return SessionFactory(programme=programme, starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours))


def enrol_children(programme, n: int) -> None:
    """n children holding seats in the whole programme."""
    for _ in range(n):
        EnrolmentFactory(programme=programme)


class ShiftFactory(Base):
    class Meta:
        model = Shift

    session = factory.SubFactory(SessionFactory)
    volunteer = factory.SubFactory(UserFactory)


class HoursFactory(Base):
    class Meta:
        model = HoursEntry

    volunteer = factory.SubFactory(UserFactory)
    community = factory.SubFactory(CommunityFactory)
    served_on = factory.LazyFunction(lambda: utcnow().astimezone(LOCAL).date())
    minutes = 120
