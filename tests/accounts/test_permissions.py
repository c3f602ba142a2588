"""Roles and community scoping: a coordinator runs their own community, an administrator every one."""

import pytest

from childcare.accounts.models import Role, RoleGrant
from childcare.accounts.permissions import (
    can_manage_community,
    ensure_admin,
    ensure_manages_community,
    managed_community_ids,
)
from childcare.audit.services import record
from childcare.db import db
from childcare.errors import Forbidden, NotFound
from tests.factories import AdminFactory, CommunityFactory, CoordinatorFactory, UserFactory


def test_a_coordinator_manages_their_own_community_and_no_other():
    a, b = CommunityFactory(), CommunityFactory()
    coordinator = CoordinatorFactory(community=a)
    assert can_manage_community(coordinator, a.id)
    assert not can_manage_community(coordinator, b.id)
    assert not can_manage_community(coordinator, None)
    assert managed_community_ids(coordinator) == {a.id}


def test_another_community_is_refused_or_hidden():
    a, b = CommunityFactory(), CommunityFactory()
    coordinator = CoordinatorFactory(community=a)
    ensure_manages_community(coordinator, a.id)
    with pytest.raises(Forbidden):
        ensure_manages_community(coordinator, b.id)
    with pytest.raises(NotFound):
        ensure_manages_community(coordinator, b.id, hide=True)


def test_an_administrator_manages_every_community():
    a, b = CommunityFactory(), CommunityFactory()
    admin = AdminFactory()
    assert can_manage_community(admin, a.id) and can_manage_community(admin, b.id)
    ensure_manages_community(admin, b.id)
    ensure_admin(admin)
    assert managed_community_ids(admin) is None, "None means every community"


def test_a_guardian_manages_nothing():
    guardian = UserFactory()
    community = CommunityFactory()
    assert managed_community_ids(guardian) == set()
    assert not can_manage_community(guardian, community.id)
    with pytest.raises(Forbidden):
        ensure_manages_community(guardian, community.id)
    with pytest.raises(Forbidden):
        ensure_admin(guardian)


def test_a_coordinator_of_two_communities_manages_both():
    a, b, c = CommunityFactory(), CommunityFactory(), CommunityFactory()
    coordinator = CoordinatorFactory(community=a)
    coordinator.grants.append(RoleGrant(role=Role.COORDINATOR, community_id=b.id))
    db.session.commit()
    assert managed_community_ids(coordinator) == {a.id, b.id}
    assert not can_manage_community(coordinator, c.id)


# --- the audit viewer --------------------------------------------------------------------------------------------


def _audit_trail():
    """Entries in community A, in community B, and one that belongs to no community."""
    a, b = CommunityFactory(), CommunityFactory()
    record(actor=None, action="test.in_community_a", object_type="thing", object_id=1, community_id=a.id)
    record(actor=None, action="test.in_community_b", object_type="thing", object_id=2, community_id=b.id)
    record(actor=None, action="test.in_no_community", object_type="thing", object_id=3)
    db.session.commit()
    return a, b


def test_a_guardian_cannot_open_the_audit_trail(client, login_as):
    _audit_trail()
    login_as(UserFactory())
    response = client.get("/manage/audit/")
    assert response.status_code == 403
    assert "test.in_community" not in response.get_data(as_text=True)


def test_a_coordinator_sees_only_their_communitys_entries(client, login_as):
    a, _b = _audit_trail()
    login_as(CoordinatorFactory(community=a))
    page = client.get("/manage/audit/").get_data(as_text=True)
    assert "test.in_community_a" in page
    assert "test.in_community_b" not in page
    assert "test.in_no_community" not in page


def test_a_coordinators_filter_does_not_widen_the_scope(client, login_as):
    a, _b = _audit_trail()
    login_as(CoordinatorFactory(community=a))
    page = client.get("/manage/audit/", query_string={"action": "test."}).get_data(as_text=True)
    assert "test.in_community_a" in page
    assert "test.in_community_b" not in page


def test_an_administrator_sees_every_entry(client, login_as):
    _audit_trail()
    login_as(AdminFactory())
    page = client.get("/manage/audit/").get_data(as_text=True)
    for action in ("test.in_community_a", "test.in_community_b", "test.in_no_community"):
        assert action in page
