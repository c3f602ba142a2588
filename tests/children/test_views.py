"""On the phone: a mother adds her child, names the grandmother as pickup person and invites the father."""

from __future__ import annotations

import sqlalchemy as sa

from childcare.children.models import Child, ConsentRecord, GuardianInvitation, PickupPerson
from childcare.db import db
from tests.children.factories import ChildFactory, InvitationFactory, PickupPersonFactory
from tests.factories import UserFactory

CHILD = {"name": "小明", "gender": "male", "birth_date": "2017-05-01", "grade": "3", "school": "杏北小学",
         "allergies": "花生", "medical_notes": "", "special_needs": "", "emergency_contact_name": "",
         "emergency_contact_phone": "", "relation": "妈妈"}


def test_a_mother_adds_her_child_after_agreeing_to_the_consent_text(login_as, post_form, client):
    login_as(UserFactory())
    client.set_cookie("lang", "en")
    page = client.get("/children/add")
    assert page.status_code == 200
    assert "parent or legal guardian" in page.get_data(as_text=True)  # the consent text is shown in full
    response = post_form("/children/add", {**CHILD, "consent": "y", "photo_consent": "y"})
    assert response.status_code == 302
    child = db.session.scalars(sa.select(Child)).one()
    assert response.headers["Location"].endswith(f"/children/{child.id}")
    assert (child.name, child.grade, child.photo_consent, child.may_go_home_alone) == ("小明", 3, True, False)
    assert db.session.scalar(sa.select(sa.func.count(ConsentRecord.id))) == 1
    assert "小明" in client.get("/children/").get_data(as_text=True)


def test_without_the_consent_tick_the_child_is_not_added_and_the_box_says_why(login_as, post_form, client):
    login_as(UserFactory())
    client.set_cookie("lang", "en")
    response = post_form("/children/add", CHILD)
    assert response.status_code == 200
    assert "Please read and agree" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Child.id))) == 0


def test_a_wrong_emergency_number_is_shown_on_its_field(login_as, post_form, client):
    login_as(UserFactory())
    client.set_cookie("lang", "en")
    response = post_form("/children/add", {**CHILD, "consent": "y", "emergency_contact_name": "李叔叔",
                                           "emergency_contact_phone": "12345"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="emergency_contact_phone-error"' in body


def test_a_guardian_edits_the_child_and_the_form_shows_the_saved_values(login_as, post_form, client):
    mother = UserFactory()
    child = ChildFactory(guardian=mother, grade=2)
    login_as(mother)
    assert '<option selected value="2">' in client.get(f"/children/{child.id}/edit").get_data(as_text=True)
    response = post_form(f"/children/{child.id}/edit", {**CHILD, "name": "小明明", "grade": "4"})
    assert response.status_code == 302
    saved = db.session.get(Child, child.id)
    assert (saved.name, saved.grade) == ("小明明", 4)


def test_someone_elses_child_answers_404_on_every_route(login_as, post_form, client):
    mother, stranger = UserFactory(), UserFactory()
    child = ChildFactory(guardian=mother)
    person = PickupPersonFactory(child=child)
    invitation = InvitationFactory(child=child, invited_by_id=mother.id)
    login_as(stranger)
    base = f"/children/{child.id}"
    for url in (base, f"{base}/edit", f"{base}/remove", f"{base}/pickup-persons/{person.id}/edit"):
        assert client.get(url).status_code == 404, url
    posts = {
        f"{base}/edit": CHILD,
        f"{base}/remove": {"confirm": "y"},
        f"{base}/pickup-persons": {"name": "陌生人"},
        f"{base}/pickup-persons/{person.id}/edit": {"name": "陌生人"},
        f"{base}/pickup-persons/{person.id}/block": {},
        f"{base}/pickup-persons/{person.id}/unblock": {},
        f"{base}/pickup-persons/{person.id}/remove": {},
        f"{base}/invitations": {"phone": "13700137100"},
        f"{base}/invitations/{invitation.id}/cancel": {},
        f"/children/invitations/{invitation.id}/accept": {},
        f"/children/invitations/{invitation.id}/decline": {},
    }
    for url, data in posts.items():
        assert post_form(url, data, token_from="/children/").status_code == 404, url
    db.session.expire_all()
    assert db.session.get(Child, child.id).name == child.name
    assert not db.session.get(PickupPerson, person.id).blocked
    assert db.session.get(GuardianInvitation, invitation.id).accepted_at is None
    assert db.session.scalar(sa.select(sa.func.count(GuardianInvitation.id))) == 1
    assert child.name not in client.get("/children/").get_data(as_text=True)


def test_a_pickup_person_is_added_blocked_and_removed_on_the_child_page(login_as, post_form, client):
    mother = UserFactory()
    child = ChildFactory(guardian=mother)
    login_as(mother)
    page = f"/children/{child.id}"
    assert post_form(f"{page}/pickup-persons", {"name": "王外婆", "relation": "外婆", "phone": "13900139010"},
                     token_from=page).status_code == 302
    person = db.session.scalars(sa.select(PickupPerson)).one()
    assert person.phone == "+8613900139010"
    post_form(f"{page}/pickup-persons/{person.id}/block", {}, token_from=page)
    assert db.session.get(PickupPerson, person.id).blocked
    body = client.get(page).get_data(as_text=True)
    assert "王外婆" in body and "13900139010" in body
    post_form(f"{page}/pickup-persons/{person.id}/remove", {}, token_from=page)
    assert db.session.scalar(sa.select(sa.func.count(PickupPerson.id))) == 0


def test_a_bad_pickup_phone_comes_back_on_the_child_page(login_as, post_form, client):
    mother = UserFactory()
    child = ChildFactory(guardian=mother)
    login_as(mother)
    client.set_cookie("lang", "en")
    response = post_form(f"/children/{child.id}/pickup-persons", {"name": "王外婆", "phone": "555"},
                         token_from=f"/children/{child.id}")
    assert response.status_code == 200 and 'id="pickup-phone-error"' in response.get_data(as_text=True)


def test_the_father_accepts_the_mothers_invitation_and_sees_the_child(login_as, post_form, client):
    mother, father = UserFactory(), UserFactory(phone="+8613700137101")
    child = ChildFactory(guardian=mother, name="小红")
    login_as(mother)
    response = post_form(f"/children/{child.id}/invitations", {"phone": "13700137101", "relation": "爸爸"},
                         token_from=f"/children/{child.id}")
    assert response.status_code == 302
    invitation = db.session.scalars(sa.select(GuardianInvitation)).one()

    login_as(father)
    assert "小红" in client.get("/children/").get_data(as_text=True)  # the invitation names the child
    assert client.get(f"/children/{child.id}").status_code == 404  # not theirs until accepted
    response = post_form(f"/children/invitations/{invitation.id}/accept", {}, token_from="/children/")
    assert response.headers["Location"].endswith(f"/children/{child.id}")
    assert client.get(f"/children/{child.id}").status_code == 200


def test_an_expired_invitation_is_not_offered_and_cannot_be_accepted(login_as, post_form, client, time_machine):
    mother, father = UserFactory(), UserFactory(phone="+8613700137102")
    child = ChildFactory(guardian=mother, name="小红")
    invitation = InvitationFactory(child=child, invited_by_id=mother.id, phone=father.phone)
    login_as(father)
    client.set_cookie("lang", "en")
    time_machine.move_to(invitation.expires_at)
    assert "小红" not in client.get("/children/").get_data(as_text=True)
    response = post_form(f"/children/invitations/{invitation.id}/accept", {}, token_from="/children/",
                         follow_redirects=True)
    assert "has expired" in response.get_data(as_text=True)
    assert client.get(f"/children/{child.id}").status_code == 404


def test_removing_needs_the_confirmation_tick(login_as, post_form, client):
    mother = UserFactory()
    child = ChildFactory(guardian=mother)
    login_as(mother)
    assert post_form(f"/children/{child.id}/remove", {}).status_code == 200
    assert db.session.get(Child, child.id) is not None
    response = post_form(f"/children/{child.id}/remove", {"confirm": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Child, child.id) is None


def test_the_list_needs_a_login(client):
    assert client.get("/children/").status_code == 302


def _child_with_three_pickup_persons(guardian) -> None:
    child = ChildFactory(guardian=guardian)
    for _ in range(3):
        PickupPersonFactory(child=child)


def test_the_list_runs_the_same_few_queries_for_one_child_or_five(login_as, client, count_queries):
    mother = UserFactory()
    _child_with_three_pickup_persons(mother)
    InvitationFactory(phone=mother.phone)
    login_as(mother)
    counts = []
    for how_many in (1, 5):
        if how_many == 5:
            for _ in range(4):
                _child_with_three_pickup_persons(mother)
        with count_queries() as n:
            response = client.get("/children/")
        assert response.status_code == 200
        assert response.get_data(as_text=True).count('class="card child"') == how_many
        counts.append(n())
    assert counts[0] == counts[1] <= 7
