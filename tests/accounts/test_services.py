"""Accounts services: phone numbers, password rules, registration, login, password change, roles."""

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from childcare.accounts import services
from childcare.accounts.models import Role, RoleGrant, User
from childcare.accounts.services import BadCredentials, InvalidPhone, PhoneTaken, WeakPassword
from childcare.audit.models import AuditEntry
from childcare.db import db
from childcare.errors import Forbidden, InvalidInput, NotFound
from childcare.notifications.models import Channel, Notification, OutboxMessage
from tests.factories import PASSWORD, AdminFactory, CommunityFactory, UserFactory


def english(error) -> str:
    """The refusal as an English-speaking user reads it (the rules differ only in their message)."""
    with force_locale("en"):
        return error.detail


# --- phone numbers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["13800138000", "138 0013 8000", "+86 138-0013-8000", "(+86) 138 0013 8000",
                                     "8613800138000"])
def test_a_mainland_mobile_number_written_any_usual_way_is_stored_in_e164(app_ctx, written):
    assert services.normalise_phone(written) == "+8613800138000"


@pytest.mark.parametrize("written", ["12345", "23800138000", "03592345678", "+1 650 253 0000", "1380013800a", "",
                                     None])
def test_anything_but_a_mainland_mobile_number_is_refused(app_ctx, written):
    with pytest.raises(InvalidPhone) as refused:
        services.normalise_phone(written)
    assert refused.value.field == "phone"
    assert refused.value.code == "invalid_phone"


def test_a_number_is_shown_masked_and_in_national_form():
    assert services.national_phone("+8613800138000") == "13800138000"
    assert services.masked_phone("+8613800138000") == "138****8000"


# --- passwords --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("password", "reason"), [
    ("ab1cd2", "at least 8 characters"),
    ("abcdefghij", "both letters and digits"),
    ("1234567890", "both letters and digits"),
    ("password123", "too easy to guess"),
    ("Abcd1234", "too easy to guess"),
    ("aaaa1111", "too easy to guess"),
    ("zhang13800138000", "must not contain your mobile number"),
    ("x" * 120 + "12345678y", "at most 128 characters"),
])
def test_a_weak_password_is_refused_with_the_reason(app_ctx, password, reason):
    with pytest.raises(WeakPassword) as refused:
        services.check_password_strength(password, phone="+8613800138000")
    assert reason in english(refused.value)
    assert refused.value.code == "weak_password"
    assert refused.value.field == "password"


def test_a_good_password_passes(app_ctx):
    services.check_password_strength("Xingbei-2026", phone="+8613800138000")


# --- registration -----------------------------------------------------------------------------------------------


def test_registering_creates_a_guardian_with_a_hashed_password(app_ctx):
    user = services.register(phone="138 0013 8000", password="Xingbei-2026", name="  张妈妈 ", locale="en")
    assert user.id is not None
    assert user.phone == "+8613800138000"
    assert user.name == "张妈妈"
    assert user.locale == "en"
    assert user.roles == [Role.GUARDIAN]
    assert "Xingbei-2026" not in user.password_hash


def test_registering_writes_an_audit_entry_a_welcome_and_an_sms_in_the_outbox(app_ctx):
    user = services.register(phone="13800138000", password="Xingbei-2026", name="张妈妈")
    db.session.flush()

    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_id == user.id,
                                                          AuditEntry.object_type == "users"))
    assert entry.action == "account.registered"
    assert entry.actor_id == user.id
    assert entry.after == {"phone": "138****8000", "name": "张妈妈"}, "the audit trail keeps the number masked"

    notification = db.session.scalar(sa.select(Notification).where(Notification.user_id == user.id))
    assert notification.kind == "account.welcome"
    assert notification.data == {"name": "张妈妈"}

    sms = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.notification_id == notification.id))
    assert sms.channel == Channel.SMS
    assert sms.recipient == "+8613800138000"
    assert "张妈妈" in sms.payload["body"]


def test_the_same_phone_cannot_register_twice(app_ctx):
    services.register(phone="13800138000", password="Xingbei-2026", name="张妈妈")
    with pytest.raises(PhoneTaken) as refused:
        services.register(phone="+86 138-0013-8000", password="Other-pass-2026", name="张爸爸")
    assert refused.value.field == "phone"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)
                             .where(User.phone == "+8613800138000")) == 1


def test_a_blank_name_is_refused(app_ctx):
    with pytest.raises(InvalidInput) as refused:
        services.register(phone="13800138000", password="Xingbei-2026", name="   ")
    assert refused.value.field == "name"


# --- logging in -------------------------------------------------------------------------------------------------


def test_the_right_phone_and_password_log_in_and_stamp_the_time(app_ctx):
    user = UserFactory(phone="+8613800138000")
    assert user.last_login_at is None
    assert services.authenticate(phone="138 0013 8000", password=PASSWORD) is user
    assert user.last_login_at is not None


@pytest.mark.parametrize(("phone", "password"), [
    ("13900139000", PASSWORD),          # nobody has this number
    ("13800138000", "Wrong-pass-2026"),  # wrong password
    ("12345", PASSWORD),                # not even a phone number
    ("13800138000", ""),
])
def test_unknown_phone_and_wrong_password_get_the_same_answer(app_ctx, phone, password):
    UserFactory(phone="+8613800138000")
    with pytest.raises(BadCredentials) as refused:
        services.authenticate(phone=phone, password=password)
    assert refused.value.code == "bad_credentials"
    assert refused.value.status == 401


def test_a_deactivated_account_cannot_log_in(app_ctx):
    user = UserFactory(phone="+8613800138000")
    user.active = False
    with pytest.raises(BadCredentials):
        services.authenticate(phone="13800138000", password=PASSWORD)
    assert services.load_user(user.get_id()) is None


# --- password change --------------------------------------------------------------------------------------------


def test_changing_the_password_bumps_the_session_version_so_old_sessions_no_longer_load(app_ctx):
    user = UserFactory(phone="+8613800138000")
    old_session_id = user.get_id()
    assert services.load_user(old_session_id) is user

    services.change_password(actor=user, current_password=PASSWORD, new_password="Brand-new-2027")

    assert user.get_id() != old_session_id
    assert services.load_user(old_session_id) is None
    assert services.load_user(user.get_id()) is user
    assert services.authenticate(phone="13800138000", password="Brand-new-2027") is user
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.object_id == user.id)
                             .order_by(AuditEntry.id.desc()).limit(1)) == "account.password_changed"


def test_the_current_password_must_be_right_to_change_it(app_ctx):
    user = UserFactory(phone="+8613800138000")
    with pytest.raises(InvalidInput) as refused:
        services.change_password(actor=user, current_password="Wrong-pass-2026", new_password="Brand-new-2027")
    assert refused.value.field == "current_password"
    assert user.session_version == 1


def test_the_new_password_obeys_the_same_rules(app_ctx):
    user = UserFactory(phone="+8613800138000")
    with pytest.raises(WeakPassword) as refused:
        services.change_password(actor=user, current_password=PASSWORD, new_password="pw13800138000")
    assert refused.value.field == "new_password"


@pytest.mark.parametrize("session_id", ["", "abc", "1", "1:x", "999999:1"])
def test_a_malformed_or_unknown_session_id_loads_nobody(app_ctx, session_id):
    assert services.load_user(session_id) is None


# --- roles ------------------------------------------------------------------------------------------------------


def test_a_coordinator_role_without_a_community_is_refused(app_ctx):
    user = UserFactory()
    with pytest.raises(InvalidInput) as refused:
        services.grant_role(actor=AdminFactory(), user=user, role=Role.COORDINATOR)
    assert refused.value.field == "community_id"
    assert not user.has_role(Role.COORDINATOR)


def test_a_coordinator_role_for_a_community_that_does_not_exist_is_refused(app_ctx):
    with pytest.raises(InvalidInput) as refused:
        services.grant_role(actor=None, user=UserFactory(), role=Role.COORDINATOR, community_id=987654)
    assert refused.value.field == "community_id"


def test_granting_a_role_twice_gives_one_grant_and_one_audit_entry(app_ctx):
    admin, user, community = AdminFactory(), UserFactory(), CommunityFactory()
    first = services.grant_role(actor=admin, user=user, role=Role.COORDINATOR, community_id=community.id)
    again = services.grant_role(actor=admin, user=user, role=Role.COORDINATOR, community_id=community.id)
    db.session.flush()

    assert again is first
    assert user.coordinated_community_ids() == {community.id}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.role == Role.COORDINATOR)) == 1
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "account.role_granted",
                                                             AuditEntry.object_id == user.id)).all()
    assert len(entries) == 1
    assert entries[0].community_id == community.id and entries[0].actor_id == admin.id


def test_a_role_without_communities_ignores_a_community_given_with_it(app_ctx):
    user = UserFactory(roles=[])
    grant = services.grant_role(actor=None, user=user, role=Role.VOLUNTEER, community_id=CommunityFactory().id)
    assert grant.community_id is None


def test_only_an_administrator_grants_roles(app_ctx):
    guardian, user = UserFactory(), UserFactory()
    with pytest.raises(Forbidden):
        services.grant_role(actor=guardian, user=user, role=Role.ADMIN)
    assert not user.is_admin


def test_revoking_a_role_takes_it_away_and_an_unknown_one_is_not_found(app_ctx):
    admin, user, community = AdminFactory(), UserFactory(), CommunityFactory()
    services.grant_role(actor=admin, user=user, role=Role.COORDINATOR, community_id=community.id)
    services.revoke_role(actor=admin, user=user, role=Role.COORDINATOR, community_id=community.id)
    assert not user.has_role(Role.COORDINATOR)
    with pytest.raises(NotFound):
        services.revoke_role(actor=admin, user=user, role=Role.COORDINATOR, community_id=community.id)


def test_the_last_administrator_cannot_lose_the_role(app_ctx):
    from childcare.errors import DomainError
    from tests.factories import AdminFactory

    only = AdminFactory()
    with pytest.raises(DomainError) as refused:
        services.revoke_role(actor=only, user=only, role=Role.ADMIN)
    assert refused.value.code == "last_admin"
    second = AdminFactory()
    services.revoke_role(actor=second, user=only, role=Role.ADMIN)
    assert not only.is_admin
