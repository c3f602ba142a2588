"""`flask users create`: the first administrator, and clean refusals for wrong input."""

import sqlalchemy as sa

from childcare.accounts.models import Role, User
from childcare.db import db
from tests.factories import CommunityFactory, UserFactory


def _create(app, *extra: str, phone: str = "13800138000"):
    return app.test_cli_runner().invoke(args=["users", "create", "--phone", phone, "--password", "Xingbei-2026",
                                              "--name", "管理员", *extra])


def _user(phone: str = "+8613800138000") -> User | None:
    return db.session.scalar(sa.select(User).where(User.phone == phone))


def test_the_first_administrator_is_created_from_the_command_line(app):
    result = _create(app, "--role", "admin")
    assert result.exit_code == 0, result.output
    assert "+8613800138000" in result.output and "roles=admin" in result.output
    admin = _user()
    assert admin.is_admin
    assert admin.name == "管理员"


def test_a_coordinator_is_created_for_a_community(app):
    community = CommunityFactory()
    result = _create(app, "--role", "coordinator", "--community", str(community.id))
    assert result.exit_code == 0, result.output
    assert _user().coordinated_community_ids() == {community.id}


def test_a_coordinator_without_a_community_is_refused_with_a_clear_message(app):
    result = _create(app, "--role", "coordinator")
    assert result.exit_code != 0
    assert result.output.startswith("Error: ")
    assert "社区" in result.output or "community" in result.output
    assert "Traceback" not in result.output
    assert _user() is None, "nothing is half-created"


def test_a_coordinator_of_a_community_that_does_not_exist_is_refused_cleanly(app):
    result = _create(app, "--role", "coordinator", "--community", "987654")
    assert result.exit_code != 0
    assert result.output.startswith("Error: ")
    assert not isinstance(result.exception, sa.exc.SQLAlchemyError)
    assert _user() is None


def test_a_bad_phone_is_refused_cleanly(app):
    result = _create(app, "--role", "admin", phone="12345")
    assert result.exit_code != 0
    assert result.output.startswith("Error: ")
    assert "手机" in result.output or "mobile" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_a_weak_password_is_refused_cleanly(app):
    result = app.test_cli_runner().invoke(args=["users", "create", "--phone", "13800138000", "--password", "12345678",
                                                "--name", "管理员"])
    assert result.exit_code != 0
    assert result.output.startswith("Error: ")
    assert _user() is None


def test_an_existing_account_is_given_the_role_instead_of_a_second_account(app):
    UserFactory(phone="+8613800138000", name="张妈妈")
    result = _create(app, "--role", "admin")
    assert result.exit_code == 0, result.output
    user = _user()
    assert user.name == "张妈妈"
    assert user.roles == [Role.GUARDIAN, Role.ADMIN]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
