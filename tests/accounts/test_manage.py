"""An administrator finds people and makes them coordinators, volunteers or administrators."""

import re

import sqlalchemy as sa

from childcare.accounts.models import Role, RoleGrant, User
from childcare.audit.models import AuditEntry
from childcare.db import db
from childcare.places.models import Venue
from tests.factories import AdminFactory, CommunityFactory, CoordinatorFactory, UserFactory

PEOPLE = "/manage/people/"


def _grants(user_id: int) -> set[tuple[str, int | None]]:
    rows = db.session.execute(sa.select(RoleGrant.role, RoleGrant.community_id).where(RoleGrant.user_id == user_id))
    return {(role.value, community_id) for role, community_id in rows}


def test_an_admin_makes_a_registered_parent_coordinator_and_they_then_manage_the_community(client, login_as,
                                                                                           post_form):
    client.set_cookie("lang", "en")
    community = CommunityFactory(name="杏北社区")
    person = UserFactory(phone="+8613900139000", name="王老师")
    login_as(AdminFactory())

    response = post_form(f"{PEOPLE}grant", {"phone": "139 0013 9000", "role": "coordinator",
                                            "community_id": community.id}, token_from=PEOPLE, follow_redirects=True)
    assert response.status_code == 200
    assert "王老师 is now a coordinator of" in response.get_data(as_text=True)
    assert ("coordinator", community.id) in _grants(person.id)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "account.role_granted"))
    assert entry.object_id == person.id and entry.community_id == community.id

    login_as(db.session.get(User, person.id))
    assert client.get("/manage/places/").status_code == 200
    response = post_form("/manage/places/venues", {"community_id": community.id, "name": "二楼活动室"},
                         token_from="/manage/places/")
    assert response.status_code == 302
    assert db.session.scalar(sa.select(Venue).where(Venue.name == "二楼活动室")).community_id == community.id


def test_a_coordinator_role_needs_a_community(client, login_as, post_form):
    client.set_cookie("lang", "en")
    person = UserFactory(phone="+8613900139001")
    login_as(AdminFactory())
    response = post_form(f"{PEOPLE}grant", {"phone": "13900139001", "role": "coordinator", "community_id": ""},
                         token_from=PEOPLE)
    assert response.status_code == 200
    assert "A coordinator must be assigned to a community." in response.get_data(as_text=True)
    assert _grants(person.id) == {("guardian", None)}


def test_an_unknown_phone_number_is_a_form_error(client, login_as, post_form):
    client.set_cookie("lang", "en")
    login_as(AdminFactory())
    response = post_form(f"{PEOPLE}grant", {"phone": "13900139999", "role": "volunteer"}, token_from=PEOPLE)
    assert response.status_code == 200
    assert "No one has registered with this mobile number yet." in response.get_data(as_text=True)


def test_an_admin_revokes_a_coordinator_role_and_the_person_loses_access(client, login_as, post_form):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    login_as(AdminFactory())
    page = f"{PEOPLE}{coordinator.id}"
    assert client.get(page).status_code == 200
    response = post_form(f"{page}/revoke", {"role": "coordinator", "community_id": community.id}, token_from=page)
    assert response.status_code == 302
    assert _grants(coordinator.id) == set()
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "account.role_revoked"))

    login_as(db.session.get(User, coordinator.id))
    assert client.get("/manage/places/").status_code == 403


def test_an_admin_gives_the_volunteer_role_from_the_persons_page(client, login_as, post_form):
    person = UserFactory()
    login_as(AdminFactory())
    page = f"{PEOPLE}{person.id}"
    response = post_form(f"{page}/grant", {"role": "volunteer"}, token_from=page)
    assert response.status_code == 302
    assert ("volunteer", None) in _grants(person.id)


def test_people_are_found_by_phone_or_name(client, login_as):
    UserFactory(phone="+8613700137000", name="李奶奶")
    UserFactory(phone="+8613600136000", name="赵爷爷")
    login_as(AdminFactory())
    page = client.get(PEOPLE, query_string={"q": "13700137000"}).get_data(as_text=True)
    assert "李奶奶" in page and "赵爷爷" not in page
    page = client.get(PEOPLE, query_string={"q": "赵"}).get_data(as_text=True)
    assert "赵爷爷" in page and "李奶奶" not in page
    assert "13700137000" not in client.get(PEOPLE).get_data(as_text=True)  # numbers are masked


def test_the_list_is_paginated_by_fifty(client, login_as):
    admin = AdminFactory(name="管理员")
    for n in range(55):
        UserFactory(name=f"家长{n:02d}")
    login_as(admin)
    first = client.get(PEOPLE, query_string={"q": "家长"}).get_data(as_text=True)
    assert len(re.findall(r'href="/manage/people/\d+"', first)) == 50
    assert "page=2" in first
    second = client.get(PEOPLE, query_string={"q": "家长", "page": 2}).get_data(as_text=True)
    assert "家长54" in second and "家长00" not in second


def test_people_are_filtered_by_role(client, login_as):
    coordinator = CoordinatorFactory(name="网格员小张")
    UserFactory(name="普通家长")
    login_as(AdminFactory())
    page = client.get(PEOPLE, query_string={"role": "coordinator"}).get_data(as_text=True)
    assert coordinator.name in page and "普通家长" not in page


def test_only_administrators_open_the_people_screen(client, login_as, post_form):
    login_as(CoordinatorFactory())
    assert client.get(PEOPLE).status_code == 403
    person = UserFactory(phone="+8613900139002")
    assert post_form(f"{PEOPLE}grant", {"phone": "13900139002", "role": "admin"}, token_from="/account/").status_code \
        == 403
    assert not db.session.get(User, person.id).has_role(Role.ADMIN)
    login_as(UserFactory())
    assert client.get(PEOPLE).status_code == 403
