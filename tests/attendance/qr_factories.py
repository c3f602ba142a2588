"""A session on a fixed afternoon, its volunteer, and a family with a seat in it (for the QR and paper tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from childcare.accounts.models import Role, User
from childcare.children.models import Child, PickupPerson
from childcare.db import db
from childcare.programmes.models import Programme, ProgrammeSession
from childcare.volunteers.models import Shift, ShiftStatus
from tests.children.factories import PickupPersonFactory
from tests.enrolment.factories import LOCAL, ChildFactory, EnrolmentFactory
from tests.factories import CoordinatorFactory, ProgrammeFactory, UserFactory

#: the session every story here uses: Monday 6 July 2026, 16:30–18:30 in Yuncheng (08:30–10:30 UTC)
SESSION_DAY = date(2026, 7, 6)
STARTS = time(16, 30)
ENDS = time(18, 30)


def local(at: time, day: date = SESSION_DAY) -> datetime:
    return datetime.combine(day, at, tzinfo=LOCAL)


def utc(hour: int, minute: int, day: date = SESSION_DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


@dataclass
class Story:
    """Everything one test needs: who, which session, which children."""

    programme: Programme
    session: ProgrammeSession
    coordinator: User
    volunteer: User
    guardian: User
    child: Child
    grandma: PickupPerson
    blocked: PickupPerson


def session_for(programme: Programme, day: date = SESSION_DAY) -> ProgrammeSession:
    session = ProgrammeSession(programme=programme, on_date=day, starts_at=local(STARTS, day),
                               ends_at=local(ENDS, day), venue_id=programme.venue_id)
    db.session.add(session)
    db.session.commit()
    return session


def volunteer_of(session: ProgrammeSession, user: User | None = None) -> User:
    """A volunteer holding a post in the session."""
    user = user or UserFactory(roles=[Role.VOLUNTEER])
    db.session.add(Shift(session_id=session.id, volunteer_id=user.id, status=ShiftStatus.HELD))
    db.session.commit()
    return user


def enrolled_child(programme: Programme, guardian: User, **kwargs) -> Child:
    """A child of the guardian holding a confirmed seat in the programme (whole mode)."""
    child = ChildFactory(guardian=guardian, **kwargs)
    EnrolmentFactory(programme=programme, child=child)
    return child


def story(**child_fields) -> Story:
    """An after-school session with a volunteer, a coordinator and a guardian whose child has a seat."""
    programme = ProgrammeFactory(starts_on=SESSION_DAY, ends_on=SESSION_DAY, start_time=STARTS, end_time=ENDS)
    session = session_for(programme)
    coordinator = CoordinatorFactory(community=programme.community)
    volunteer = volunteer_of(session)
    guardian = UserFactory(phone="+8613912345678", name="王芳")
    child = enrolled_child(programme, guardian, name="王小明", **child_fields)
    grandma = PickupPersonFactory(child=child, name="李秀英", relation="外婆")
    blocked = PickupPersonFactory(child=child, name="张伟", relation="舅舅", blocked=True)
    return Story(programme=programme, session=session, coordinator=coordinator, volunteer=volunteer,
                 guardian=guardian, child=child, grandma=grandma, blocked=blocked)
