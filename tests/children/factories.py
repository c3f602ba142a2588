"""Factories for children, their guardians, pickup persons and invitations."""

from __future__ import annotations

from datetime import timedelta

import factory

from childcare.children.models import Child, GuardianInvitation, Guardianship, PickupPerson
from childcare.db import db, utcnow
from tests.factories import Base, UserFactory


class ChildFactory(Base):
    """A child; pass guardian=user to make that person its guardian."""

    class Meta:
        model = Child

    name = factory.Sequence(lambda n: f"孩子{n}")
    grade = 3
    school = "杏北小学"
    allergies = "花生"
    medical_notes = "哮喘，随身带喷雾"

    @factory.post_generation
    def guardian(self, create, extracted, **kwargs):
        if extracted is not None:
            self.guardianships.append(Guardianship(user_id=extracted.id, relation=kwargs.get("relation", "妈妈")))
            if create:
                db.session.commit()


class PickupPersonFactory(Base):
    class Meta:
        model = PickupPerson

    child = factory.SubFactory(ChildFactory)
    name = factory.Sequence(lambda n: f"接送人{n}")
    relation = "外婆"
    phone = factory.Sequence(lambda n: f"+86139{n:08d}")


class InvitationFactory(Base):
    class Meta:
        model = GuardianInvitation

    child = factory.SubFactory(ChildFactory)
    invited_by_id = factory.LazyFunction(lambda: UserFactory().id)
    phone = factory.Sequence(lambda n: f"+86137{n:08d}")
    relation = "爸爸"
    expires_at = factory.LazyFunction(lambda: utcnow() + timedelta(days=7))
