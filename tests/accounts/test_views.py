"""A guardian registers, logs in and out, and changes the password, in Chinese by default."""

import sqlalchemy as sa

from childcare.accounts.models import User
from childcare.db import db
from tests.factories import PASSWORD, UserFactory


def test_a_newcomer_registers_with_a_mobile_number_and_is_logged_in(client, post_form):
    response = post_form("/account/register", {"name": "张妈妈", "phone": "138 0013 8000", "password": "Xingbei-2026",
                                               "confirm": "Xingbei-2026"}, follow_redirects=True)
    assert response.status_code == 200
    assert "张妈妈" in response.get_data(as_text=True)
    user = db.session.scalar(sa.select(User).where(User.phone == "+8613800138000"))
    assert user is not None and user.roles[0].value == "guardian"
    assert client.get("/notifications/").status_code == 200


def test_a_bad_phone_number_is_refused_in_chinese(client, post_form):
    response = post_form("/account/register", {"name": "张妈妈", "phone": "12345", "password": "Xingbei-2026",
                                               "confirm": "Xingbei-2026"})
    assert response.status_code == 200
    assert "请输入有效的" in response.get_data(as_text=True)


def test_a_weak_password_is_refused_in_chinese(client, post_form):
    response = post_form("/account/register", {"name": "张妈妈", "phone": "13800138001", "password": "12345678",
                                               "confirm": "12345678"})
    assert "密码" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(User).where(User.phone == "+8613800138001")) is None


def test_login_with_the_right_password_and_logout(client, post_form):
    user = UserFactory(phone="+8613800138002")
    response = post_form("/account/login", {"phone": "13800138002", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200
    post_form("/account/logout", {}, token_from="/account/")
    assert client.get("/account/").status_code == 302
    assert user.id


def test_a_wrong_password_is_refused(client, post_form):
    UserFactory(phone="+8613800138003")
    response = post_form("/account/login", {"phone": "13800138003", "password": "Wrong-pass-1"})
    assert response.status_code == 200
    assert "不正确" in response.get_data(as_text=True)
