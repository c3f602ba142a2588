"""factory_boy factories for the domain objects; they commit into the test's SAVEPOINT."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import factory
from werkzeug.security import generate_password_hash

from childcare.accounts.models import Role, RoleGrant, User
from childcare.db import db
from childcare.places.models import Community, District, Street, Venue
from childcare.programmes.models import Programme, ProgrammeKind

PASSWORD = "Good-pass-2026"
_PASSWORD_HASH = generate_password_hash(PASSWORD)


class Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class DistrictFactory(Base):
    class Meta:
        model = District

    name = factory.Sequence(lambda n: f"测试区{n}")
    city = "运城市"


class StreetFactory(Base):
    class Meta:
        model = Street

    district = factory.SubFactory(DistrictFactory)
    name = factory.Sequence(lambda n: f"测试街道{n}")


class CommunityFactory(Base):
    class Meta:
        model = Community

    street = factory.SubFactory(StreetFactory)
    name = factory.Sequence(lambda n: f"测试社区{n}")


class VenueFactory(Base):
    class Meta:
        model = Venue

    community = factory.SubFactory(CommunityFactory)
    name = factory.Sequence(lambda n: f"活动室{n}")


class UserFactory(Base):
    class Meta:
        model = User

    phone = factory.Sequence(lambda n: f"+86138{n:08d}")
    name = factory.Sequence(lambda n: f"用户{n}")
    password_hash = _PASSWORD_HASH

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted if extracted is not None else (Role.GUARDIAN,):
            self.grants.append(RoleGrant(role=Role(role)))
        if create:
            db.session.commit()


class CoordinatorFactory(UserFactory):
    """A coordinator of one community (pass community=...)."""

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        pass

    @factory.post_generation
    def community(self, create, extracted, **kwargs):
        community = extracted or CommunityFactory()
        self.grants.append(RoleGrant(role=Role.COORDINATOR, community_id=community.id))
        if create:
            db.session.commit()


class AdminFactory(UserFactory):
    """An administrator over every community."""

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        self.grants.append(RoleGrant(role=Role.ADMIN))
        if create:
            db.session.commit()


class ProgrammeFactory(Base):
    class Meta:
        model = Programme

    community = factory.SubFactory(CommunityFactory)
    venue = factory.SubFactory(VenueFactory, community=factory.SelfAttribute("..community"))
    kind = ProgrammeKind.HOLIDAY_CAMP
    title = factory.Sequence(lambda n: f"暑期课堂{n}")
    capacity = 10
    starts_on = factory.LazyFunction(lambda: date.today() + timedelta(days=30))
    ends_on = factory.LazyAttribute(lambda o: o.starts_on + timedelta(days=10))
    start_time = time(9)
    end_time = time(12)
    registration_opens_at = factory.LazyFunction(lambda: datetime.now(UTC) - timedelta(days=1))
    registration_closes_at = factory.LazyFunction(lambda: datetime.now(UTC) + timedelta(days=20))
