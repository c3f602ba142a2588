"""A guardian adds a child with consent, shares it with a second guardian, and names who may pick it up."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from childcare.accounts.services import InvalidPhone
from childcare.audit.models import AuditEntry
from childcare.children import queries, services
from childcare.children.models import Child, ConsentRecord, GuardianInvitation, Guardianship, PickupPerson
from childcare.children.services import (
    AlreadyGuardian,
    ConsentRequired,
    InvalidChild,
    InvitationClosed,
    InvitationExpired,
    RemovalOutcome,
)
from childcare.db import db, utcnow
from childcare.enrolment.models import Enrolment, EnrolmentStatus
from childcare.errors import DomainError, NotFound
from childcare.notifications.models import Notification
from tests.children.factories import ChildFactory, InvitationFactory, PickupPersonFactory
from tests.factories import ProgrammeFactory, UserFactory


def _entries(*actions: str) -> list[AuditEntry]:
    query = sa.select(AuditEntry).order_by(AuditEntry.id)
    if actions:
        query = query.where(AuditEntry.action.in_(actions))
    return list(db.session.scalars(query))


def _add(actor, **overrides) -> Child:
    values = {"name": "小明", "birth_date": date(2017, 5, 1), "grade": 3, "school": "杏北小学",
              "allergies": "花生", "medical_notes": "哮喘，随身带喷雾", "consent": True, "relation": "妈妈"}
    return services.add_child(actor=actor, **{**values, **overrides})


# ---- adding a child ------------------------------------------------------------------------------------------


def test_a_child_is_not_added_without_the_guardians_consent(app_ctx):
    mother = UserFactory()
    with pytest.raises(ConsentRequired) as refused:
        _add(mother, consent=False)
    assert refused.value.code == "consent_required" and refused.value.field == "consent"
    assert db.session.scalar(sa.select(sa.func.count(Child.id))) == 0


def test_adding_a_child_records_who_consented_when_and_to_which_text(app_ctx):
    mother = UserFactory()
    before = utcnow()
    child = _add(mother, pickup_persons=[{"name": "王外婆", "relation": "外婆", "phone": "139 0013 9000"}])

    consent = db.session.scalars(sa.select(ConsentRecord).where(ConsentRecord.child_id == child.id)).one()
    assert consent.user_id == mother.id
    assert consent.text_version == services.CONSENT_TEXT_VERSION == "minor-pi-2026-01"
    assert before <= consent.given_at <= utcnow() and consent.withdrawn_at is None
    assert [g.user_id for g in child.guardianships] == [mother.id]
    assert child.guardianships[0].relation == "妈妈"
    assert [(p.name, p.phone) for p in child.pickup_persons] == [("王外婆", "+8613900139000")]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"name": "  "}, "name"),
    ({"name": "名" * 61}, "name"),
    ({"birth_date": date.today() + timedelta(days=2)}, "birth_date"),
    ({"birth_date": date(2000, 1, 1)}, "birth_date"),
    ({"grade": 10}, "grade"),
    ({"grade": -1}, "grade"),
    ({"gender": "other"}, "gender"),
    ({"emergency_contact_name": "李叔叔", "emergency_contact_phone": "12345"}, "emergency_contact_phone"),
    ({"emergency_contact_name": "李叔叔"}, "emergency_contact_phone"),
])
def test_bad_child_details_are_refused_on_their_field(app_ctx, overrides, field):
    with pytest.raises(DomainError) as refused:
        _add(UserFactory(), **overrides)
    assert refused.value.field == field


def test_a_pickup_person_needs_a_name_and_a_phone_that_is_valid_if_given(app_ctx):
    mother = UserFactory()
    with pytest.raises(InvalidChild) as no_name:
        _add(mother, pickup_persons=[{"name": "", "phone": "13900139000"}])
    assert no_name.value.field == "pickup_persons.0.name"
    with pytest.raises(InvalidPhone) as bad_phone:
        _add(mother, pickup_persons=[{"name": "王外婆", "phone": "555"}])
    assert bad_phone.value.code == "invalid_phone" and bad_phone.value.field == "pickup_persons.0.phone"
    child = _add(mother, pickup_persons=[{"name": "王外婆"}])
    assert child.pickup_persons[0].phone == ""


def test_the_emergency_contacts_phone_is_stored_in_one_form(app_ctx):
    child = _add(UserFactory(), emergency_contact_name="李叔叔", emergency_contact_phone="139-0013-9001")
    assert child.emergency_contact_phone == "+8613900139001"


# ---- only the guardians ----------------------------------------------------------------------------------------


def test_another_guardians_child_is_not_found_for_every_change(app_ctx):
    mother, stranger = UserFactory(), UserFactory()
    child = ChildFactory(guardian=mother)
    person = PickupPersonFactory(child=child)
    attempts = [
        lambda: services.update_child(actor=stranger, child_id=child.id, name="改名"),
        lambda: services.remove_child(actor=stranger, child_id=child.id),
        lambda: services.add_pickup_person(actor=stranger, child_id=child.id, name="陌生人"),
        lambda: services.update_pickup_person(actor=stranger, child_id=child.id, pickup_person_id=person.id,
                                              name="陌生人"),
        lambda: services.set_pickup_person_blocked(actor=stranger, child_id=child.id, pickup_person_id=person.id,
                                                   blocked=True),
        lambda: services.remove_pickup_person(actor=stranger, child_id=child.id, pickup_person_id=person.id),
        lambda: services.replace_pickup_persons(actor=stranger, child_id=child.id,
                                                persons=[{"id": person.id, "name": "陌生人", "blocked": True}]),
        lambda: services.invite_guardian(actor=stranger, child_id=child.id, phone="13700137000"),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()
    assert queries.get_child_for_guardian(stranger, child.id) is None
    assert queries.children_of(stranger) == []
    assert child.name != "改名" and not person.blocked


def test_a_pickup_person_of_another_child_is_not_found_through_my_child(app_ctx):
    mother, other = UserFactory(), UserFactory()
    mine = ChildFactory(guardian=mother)
    theirs = PickupPersonFactory(child=ChildFactory(guardian=other))
    with pytest.raises(NotFound):
        services.remove_pickup_person(actor=mother, child_id=mine.id, pickup_person_id=theirs.id)
    assert db.session.get(PickupPerson, theirs.id) is not None


# ---- changing -----------------------------------------------------------------------------------------------


def test_a_guardian_updates_only_the_fields_given(app_ctx):
    mother = UserFactory()
    child = _add(mother)
    services.update_child(actor=mother, child_id=child.id, grade=4, photo_consent=True)
    assert (child.grade, child.photo_consent, child.name) == (4, True, "小明")
    entry = _entries("child.updated")[-1]
    assert entry.before == {"grade": 3, "photo_consent": False}
    assert entry.after == {"grade": 4, "photo_consent": True}


def test_the_audit_trail_never_holds_medical_notes_or_allergies(app_ctx):
    mother = UserFactory()
    child = _add(mother)
    services.update_child(actor=mother, child_id=child.id, medical_notes="新药：布地奈德", allergies="青霉素",
                          special_needs="需要安静的角落")
    services.remove_child(actor=mother, child_id=child.id)
    entries = _entries()
    assert entries
    text = " ".join(str(e.before) + str(e.after) for e in entries)
    for secret in ("哮喘", "布地奈德", "花生", "青霉素", "安静"):
        assert secret not in text
    updated = _entries("child.updated")[0]
    assert updated.after["medical_notes"] == "changed" and updated.before["medical_notes"] == "changed"


def test_pickup_persons_are_added_edited_blocked_and_removed(app_ctx):
    mother = UserFactory()
    child = _add(mother)
    person = services.add_pickup_person(actor=mother, child_id=child.id, name="张爷爷", relation="爷爷",
                                        phone="13900139002")
    services.update_pickup_person(actor=mother, child_id=child.id, pickup_person_id=person.id, name="张爷爷",
                                  relation="外公", phone="13900139003")
    assert (person.relation, person.phone) == ("外公", "+8613900139003")
    services.set_pickup_person_blocked(actor=mother, child_id=child.id, pickup_person_id=person.id, blocked=True)
    assert person.blocked
    services.remove_pickup_person(actor=mother, child_id=child.id, pickup_person_id=person.id)
    assert db.session.get(PickupPerson, person.id) is None
    actions = [e.action for e in _entries("pickup_person.added", "pickup_person.updated", "pickup_person.blocked",
                                          "pickup_person.removed")]
    assert actions == ["pickup_person.added", "pickup_person.updated", "pickup_person.blocked",
                       "pickup_person.removed"]


def _persons_of(child: Child) -> list[tuple]:
    return [(p.id, p.name, p.relation, p.phone, p.blocked) for p in db.session.scalars(
        sa.select(PickupPerson).where(PickupPerson.child_id == child.id).order_by(PickupPerson.id))]


def test_replacing_the_list_updates_the_listed_adds_the_new_and_removes_the_rest_each_audited(app_ctx):
    mother = UserFactory()
    child = _add(mother, pickup_persons=[{"name": "王外婆", "relation": "外婆", "phone": "13900139001"},
                                         {"name": "张爷爷", "relation": "爷爷"}])
    grandma, grandpa = child.pickup_persons
    audited = len(_entries())

    persons = services.replace_pickup_persons(actor=mother, child_id=child.id, persons=[
        {"name": "李阿姨", "relation": "保姆", "phone": "139 0013 9005", "blocked": True},
        {"id": grandma.id, "name": "王外婆", "relation": "姥姥", "phone": "13900139001"},
    ])

    assert [(p.name, p.relation, p.phone, p.blocked) for p in persons] == [
        ("李阿姨", "保姆", "+8613900139005", True), ("王外婆", "姥姥", "+8613900139001", False)]
    assert persons[1] is grandma
    assert [p.name for p in child.pickup_persons] == ["王外婆", "李阿姨"]  # the child's list is read afresh
    assert [p[1] for p in _persons_of(child)] == ["王外婆", "李阿姨"]
    entries = _entries()[audited:]
    assert [(e.action, e.object_id) for e in entries] == [
        ("pickup_person.removed", grandpa.id), ("pickup_person.added", persons[0].id),
        ("pickup_person.blocked", persons[0].id), ("pickup_person.updated", grandma.id)]
    assert {e.actor_id for e in entries} == {mother.id}
    assert entries[3].before["relation"] == "外婆" and entries[3].after["relation"] == "姥姥"


def test_replacing_keeps_a_block_unless_the_entry_says_otherwise(app_ctx):
    mother = UserFactory()
    child = _add(mother, pickup_persons=[{"name": "王外婆"}, {"name": "张爷爷"}])
    grandma, grandpa = child.pickup_persons
    services.set_pickup_person_blocked(actor=mother, child_id=child.id, pickup_person_id=grandma.id, blocked=True)
    services.replace_pickup_persons(actor=mother, child_id=child.id, persons=[
        {"id": grandma.id, "name": "王外婆"}, {"id": grandpa.id, "name": "张爷爷", "blocked": False}])
    assert (grandma.blocked, grandpa.blocked) == (True, False)
    services.replace_pickup_persons(actor=mother, child_id=child.id, persons=[
        {"id": grandma.id, "name": "王外婆", "blocked": False}])
    assert not grandma.blocked
    assert [e.action for e in _entries("pickup_person.blocked", "pickup_person.unblocked")] == [
        "pickup_person.blocked", "pickup_person.unblocked"]


@pytest.mark.parametrize(("entry", "field"), [
    ({"name": "李阿姨", "phone": "555"}, "pickup_persons.1.phone"),
    ({"name": "  "}, "pickup_persons.1.name"),
    ({"name": "李阿姨", "relation": "关" * 31}, "pickup_persons.1.relation"),
])
def test_one_bad_entry_changes_nothing_and_names_its_place_in_the_list(app_ctx, entry, field):
    mother = UserFactory()
    child = _add(mother, pickup_persons=[{"name": "王外婆", "phone": "13900139001"}, {"name": "张爷爷"}])
    before, audited = _persons_of(child), len(_entries())
    with pytest.raises(DomainError) as refused:
        services.replace_pickup_persons(actor=mother, child_id=child.id, persons=[
            {"id": child.pickup_persons[0].id, "name": "王姥姥", "blocked": True}, entry])
    assert refused.value.field == field
    assert _persons_of(child) == before and len(_entries()) == audited


def test_a_pickup_person_of_another_child_cannot_be_taken_over_through_the_list(app_ctx):
    mother, other = UserFactory(), UserFactory()
    mine = _add(mother, pickup_persons=[{"name": "王外婆"}])
    theirs = PickupPersonFactory(child=ChildFactory(guardian=other), name="他们的外婆")
    before, theirs_before, audited = _persons_of(mine), _persons_of(theirs.child), len(_entries())
    with pytest.raises(InvalidChild) as refused:
        services.replace_pickup_persons(actor=mother, child_id=mine.id, persons=[
            {"name": "李阿姨"}, {"id": theirs.id, "name": "改名了", "blocked": True}])
    assert refused.value.field == "pickup_persons.1.id" and refused.value.status == 422
    assert _persons_of(mine) == before and _persons_of(theirs.child) == theirs_before
    assert len(_entries()) == audited


def test_the_same_pickup_person_listed_twice_is_refused_on_the_second_entry(app_ctx):
    mother = UserFactory()
    child = _add(mother, pickup_persons=[{"name": "王外婆"}])
    grandma_id = child.pickup_persons[0].id
    with pytest.raises(InvalidChild) as refused:
        services.replace_pickup_persons(actor=mother, child_id=child.id, persons=[
            {"id": grandma_id, "name": "王外婆"}, {"id": grandma_id, "name": "王姥姥"}])
    assert refused.value.field == "pickup_persons.1.id"
    assert child.pickup_persons[0].name == "王外婆"


def test_the_list_may_hold_at_most_ten_and_ten_new_may_replace_ten_old(app_ctx):
    mother = UserFactory()
    ten = [{"name": f"接送人{n}"} for n in range(services.MAX_PICKUP_PERSONS)]
    child = _add(mother, pickup_persons=ten)
    before = _persons_of(child)
    with pytest.raises(services.TooMany) as refused:
        services.replace_pickup_persons(actor=mother, child_id=child.id, persons=[*ten, {"name": "第十一位"}])
    assert refused.value.field == "pickup_persons"
    assert _persons_of(child) == before
    # The old ten are removed before the new ten are added, so the ceiling is never crossed on the way.
    persons = services.replace_pickup_persons(actor=mother, child_id=child.id,
                                              persons=[{"name": f"新接送人{n}"} for n in range(10)])
    assert [p.name for p in child.pickup_persons] == [p.name for p in persons] == [f"新接送人{n}" for n in range(10)]


# ---- removing ---------------------------------------------------------------------------------------------------


def test_a_child_without_history_is_deleted(app_ctx):
    mother = UserFactory()
    child = _add(mother, pickup_persons=[{"name": "王外婆"}])
    child_id = child.id
    assert services.remove_child(actor=mother, child_id=child_id) is RemovalOutcome.DELETED
    db.session.expire_all()
    assert db.session.get(Child, child_id) is None
    assert db.session.scalar(sa.select(sa.func.count(Guardianship.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(PickupPerson.id))) == 0
    consent = db.session.scalars(sa.select(ConsentRecord)).one()
    assert consent.child_id is None and consent.withdrawn_at is not None
    assert [e.object_id for e in _entries("child.removed")] == [child_id]


def test_a_child_with_an_enrolment_is_anonymised_and_the_enrolment_kept(app_ctx):
    mother = UserFactory()
    child = _add(mother, emergency_contact_name="李叔叔", emergency_contact_phone="13900139001",
                 pickup_persons=[{"name": "王外婆"}])
    enrolment = Enrolment(programme_id=ProgrammeFactory().id, child_id=child.id, status=EnrolmentStatus.CONFIRMED)
    db.session.add(enrolment)
    db.session.flush()

    assert services.remove_child(actor=mother, child_id=child.id) is RemovalOutcome.ANONYMISED
    db.session.expire_all()
    kept = db.session.get(Child, child.id)
    assert kept is not None and kept.anonymised_at is not None
    assert kept.name not in ("小明", "")
    assert (kept.birth_date, kept.school, kept.allergies, kept.medical_notes, kept.special_needs) == (
        None, "", "", "", "")
    assert (kept.emergency_contact_name, kept.emergency_contact_phone) == ("", "")
    assert kept.pickup_persons == [] and kept.guardianships == []
    assert db.session.get(Enrolment, enrolment.id).child_id == child.id
    assert queries.children_of(mother) == []
    assert len(_entries("child.anonymised")) == 1


# ---- a second guardian -------------------------------------------------------------------------------------------


def test_an_invited_father_accepts_and_then_sees_the_child(app_ctx):
    mother, father = UserFactory(name="张妈妈"), UserFactory(phone="+8613700137001")
    child = _add(mother)
    invitation = services.invite_guardian(actor=mother, child_id=child.id, phone="137 0013 7001", relation="爸爸")
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    assert services.pending_invitations_for(father) == [invitation]
    told = db.session.scalars(sa.select(Notification).where(Notification.user_id == father.id)).one()
    assert told.kind == "children.guardian_invited" and told.data["child"] == "小明"

    guardianship = services.accept_invitation(actor=father, invitation_id=invitation.id)
    assert guardianship.relation == "爸爸"
    assert [c.id for c in queries.children_of(father)] == [child.id]
    assert services.pending_invitations_for(father) == []
    assert [e.action for e in _entries("guardian.invited", "guardian.accepted")] == [
        "guardian.invited", "guardian.accepted"]
    assert _entries("guardian.invited")[0].after["phone"] == "137****7001"


def test_inviting_someone_without_an_account_waits_for_them_to_register(app_ctx):
    mother = UserFactory()
    child = _add(mother)
    invitation = services.invite_guardian(actor=mother, child_id=child.id, phone="13700137002")
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))
                             .where(Notification.kind == "children.guardian_invited")) == 0
    newcomer = UserFactory(phone="+8613700137002")
    assert services.pending_invitations_for(newcomer) == [invitation]


def test_inviting_the_same_number_twice_gives_one_invitation(app_ctx):
    mother = UserFactory()
    child = _add(mother)
    first = services.invite_guardian(actor=mother, child_id=child.id, phone="13700137003")
    again = services.invite_guardian(actor=mother, child_id=child.id, phone="+8613700137003")
    assert first is again
    assert db.session.scalar(sa.select(sa.func.count(GuardianInvitation.id))) == 1


def test_a_guardian_cannot_invite_themselves_or_a_fellow_guardian(app_ctx):
    mother = UserFactory(phone="+8613700137004")
    child = _add(mother)
    with pytest.raises(AlreadyGuardian):
        services.invite_guardian(actor=mother, child_id=child.id, phone="13700137004")


def test_a_third_person_cannot_accept_or_decline_someone_elses_invitation(app_ctx):
    mother, father, stranger = UserFactory(), UserFactory(phone="+8613700137005"), UserFactory()
    child = _add(mother)
    invitation = services.invite_guardian(actor=mother, child_id=child.id, phone="13700137005")
    with pytest.raises(NotFound):
        services.accept_invitation(actor=stranger, invitation_id=invitation.id)
    with pytest.raises(NotFound):
        services.decline_invitation(actor=stranger, invitation_id=invitation.id)
    assert services.pending_invitations_for(stranger) == []
    assert queries.children_of(stranger) == []
    assert invitation.accepted_at is None and father.id


def test_an_expired_invitation_is_refused(app_ctx, time_machine):
    mother, father = UserFactory(), UserFactory(phone="+8613700137006")
    child = _add(mother)
    invitation = services.invite_guardian(actor=mother, child_id=child.id, phone="13700137006")
    time_machine.move_to(utcnow() + timedelta(days=7, minutes=1))
    assert services.pending_invitations_for(father) == []
    with pytest.raises(InvitationExpired) as refused:
        services.accept_invitation(actor=father, invitation_id=invitation.id)
    assert refused.value.code == "invitation_expired"
    assert queries.children_of(father) == []


def test_an_answered_invitation_cannot_be_answered_again(app_ctx):
    mother, father = UserFactory(), UserFactory(phone="+8613700137007")
    child = _add(mother)
    invitation = services.invite_guardian(actor=mother, child_id=child.id, phone="13700137007")
    services.decline_invitation(actor=father, invitation_id=invitation.id)
    with pytest.raises(InvitationClosed):
        services.accept_invitation(actor=father, invitation_id=invitation.id)
    assert queries.children_of(father) == []


def test_an_existing_guardian_accepting_an_old_invitation_is_told_so(app_ctx):
    mother, father = UserFactory(), UserFactory(phone="+8613700137008")
    child = ChildFactory(guardian=mother)
    invitation = InvitationFactory(child=child, invited_by_id=mother.id, phone=father.phone)
    db.session.add(Guardianship(child_id=child.id, user_id=father.id))
    db.session.flush()
    with pytest.raises(AlreadyGuardian):
        services.accept_invitation(actor=father, invitation_id=invitation.id)


def test_either_guardian_may_withdraw_an_open_invitation(app_ctx):
    mother, stranger = UserFactory(), UserFactory()
    child = _add(mother)
    invitation = services.invite_guardian(actor=mother, child_id=child.id, phone="13700137009")
    with pytest.raises(NotFound):
        services.cancel_invitation(actor=stranger, child_id=child.id, invitation_id=invitation.id)
    services.cancel_invitation(actor=mother, child_id=child.id, invitation_id=invitation.id)
    assert db.session.get(GuardianInvitation, invitation.id) is None
