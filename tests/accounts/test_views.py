"""A guardian registers, logs in and out, and changes the password, in Chinese by default."""

import pytest
import sqlalchemy as sa

from childcare.accounts.models import User
from childcare.db import db
from tests.conftest import csrf_token_from
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


# --- registration -----------------------------------------------------------------------------------------------


def test_a_registered_number_is_refused_with_a_hint_to_log_in(client, post_form):
    UserFactory(phone="+8613800138004")
    client.set_cookie("lang", "en")
    response = post_form("/account/register", {"name": "张爸爸", "phone": "138-0013-8004", "password": "Xingbei-2026",
                                               "confirm": "Xingbei-2026"})
    assert response.status_code == 200
    assert "already registered" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)
                             .where(User.phone == "+8613800138004")) == 1


def test_the_language_chosen_before_registering_is_remembered_on_the_account(client, post_form):
    client.set_cookie("lang", "en")
    post_form("/account/register", {"name": "Anna", "phone": "13800138005", "password": "Xingbei-2026",
                                    "confirm": "Xingbei-2026"})
    assert db.session.scalar(sa.select(User.locale).where(User.phone == "+8613800138005")) == "en"


def test_a_forged_language_cookie_is_not_stored_on_the_account(client, post_form):
    client.set_cookie("lang", "x" * 200)
    response = post_form("/account/register", {"name": "张妈妈", "phone": "13800138006", "password": "Xingbei-2026",
                                               "confirm": "Xingbei-2026"})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(User.locale).where(User.phone == "+8613800138006")) is None


def test_mismatched_passwords_are_refused_by_the_form(client, post_form):
    client.set_cookie("lang", "en")
    response = post_form("/account/register", {"name": "张妈妈", "phone": "13800138007", "password": "Xingbei-2026",
                                               "confirm": "Xingbei-2027"})
    assert "The passwords do not match." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(User).where(User.phone == "+8613800138007")) is None


def test_a_logged_in_person_visiting_register_goes_home(client, login_as):
    login_as(UserFactory())
    response = client.get("/account/register")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


# --- logging in and the next parameter ----------------------------------------------------------------------------


def test_login_follows_next_within_the_site(client, post_form):
    UserFactory(phone="+8613800138010")
    response = post_form("/account/login?next=/notifications/",
                         {"phone": "13800138010", "password": PASSWORD, "next": "/notifications/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/notifications/"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil.example",
                                    "javascript:alert(1)", "\\\\evil.example", "/\t/evil.example",
                                    " //evil.example", "http:/evil.example"])
def test_login_never_sends_the_visitor_off_the_site(client, post_form, target):
    UserFactory(phone="+8613800138011")
    response = post_form("/account/login", {"phone": "13800138011", "password": PASSWORD, "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_a_logged_in_visitor_at_the_login_page_is_not_sent_off_the_site_either(client, login_as, target):
    login_as(UserFactory())
    response = client.get("/account/login", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_the_login_gate_brings_the_visitor_back_after_logging_in(client, post_form):
    UserFactory(phone="+8613800138012")
    gate = client.get("/notifications/")
    assert gate.status_code == 302
    login_page = gate.headers["Location"]
    assert login_page == "/account/login?next=/notifications/"
    response = post_form(login_page, {"phone": "13800138012", "password": PASSWORD, "next": "/notifications/"})
    assert response.headers["Location"] == "/notifications/"
    assert client.get("/notifications/").status_code == 200


def test_a_wrong_password_message_in_english(client, post_form):
    UserFactory(phone="+8613800138013")
    client.set_cookie("lang", "en")
    response = post_form("/account/login", {"phone": "13800138013", "password": "Wrong-pass-1"})
    assert response.status_code == 200
    assert "The mobile number or password is not correct." in response.get_data(as_text=True)
    assert client.get("/account/").status_code == 302


def test_logging_out_needs_a_post(client, login_as):
    login_as(UserFactory())
    assert client.get("/account/logout").status_code == 405
    assert client.get("/account/").status_code == 200


# --- changing the password ---------------------------------------------------------------------------------------


def test_changing_the_password_keeps_this_phone_logged_in_and_logs_out_the_other(app, client, post_form):
    user = UserFactory(phone="+8613800138020")
    post_form("/account/login", {"phone": "13800138020", "password": PASSWORD})
    other_phone = app.test_client()
    with other_phone.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    assert other_phone.get("/account/").status_code == 200

    response = post_form("/account/", {"current_password": PASSWORD, "new_password": "Brand-new-2027",
                                       "confirm": "Brand-new-2027"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/"

    assert client.get("/account/").status_code == 200
    logged_out = other_phone.get("/account/")
    assert logged_out.status_code == 302
    assert logged_out.headers["Location"].startswith("/account/login?next=")
    assert db.session.get(User, user.id).session_version == 2


def test_the_new_password_is_the_one_that_works_afterwards(app, client, post_form):
    UserFactory(phone="+8613800138021")
    post_form("/account/login", {"phone": "13800138021", "password": PASSWORD})
    post_form("/account/", {"current_password": PASSWORD, "new_password": "Brand-new-2027",
                            "confirm": "Brand-new-2027"})
    post_form("/account/logout", {}, token_from="/account/")

    assert post_form("/account/login", {"phone": "13800138021", "password": PASSWORD}).status_code == 200
    assert post_form("/account/login", {"phone": "13800138021", "password": "Brand-new-2027"}).status_code == 302


def test_a_wrong_current_password_is_shown_on_its_field(client, post_form):
    UserFactory(phone="+8613800138022")
    client.set_cookie("lang", "en")
    post_form("/account/login", {"phone": "13800138022", "password": PASSWORD})
    response = post_form("/account/", {"current_password": "Wrong-pass-1", "new_password": "Brand-new-2027",
                                       "confirm": "Brand-new-2027"})
    assert response.status_code == 200
    assert 'id="current_password-error"' in response.get_data(as_text=True)
    assert "The current password is not correct." in response.get_data(as_text=True)


# --- rate limits -------------------------------------------------------------------------------------------------


def test_the_sixth_login_attempt_in_a_minute_is_refused_with_retry_after(client, post_form):
    UserFactory(phone="+8613800138030")
    client.set_cookie("lang", "en")
    for _attempt in range(5):
        assert post_form("/account/login", {"phone": "13800138030", "password": "Wrong-pass-1"}).status_code == 200
    response = post_form("/account/login", {"phone": "13800138030", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many attempts" in response.get_data(as_text=True)
    assert client.get("/account/").status_code == 302, "even the right password waits"
    assert client.get("/account/login").status_code == 200, "the login page itself still shows"


def test_the_sixth_registration_in_a_minute_is_refused_with_retry_after(client, post_form):
    client.set_cookie("lang", "en")
    form = {"name": "张妈妈", "phone": "13800138031", "password": "Xingbei-2026", "confirm": "mismatch-2026"}
    for _attempt in range(5):
        assert post_form("/account/register", form).status_code == 200
    response = post_form("/account/register", {**form, "confirm": "Xingbei-2026"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many attempts" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(User).where(User.phone == "+8613800138031")) is None


# --- CSRF --------------------------------------------------------------------------------------------------------


def test_a_login_form_without_its_csrf_token_is_refused_with_a_reload_hint(client):
    UserFactory(phone="+8613800138040")
    client.set_cookie("lang", "en")
    response = client.post("/account/login", data={"phone": "13800138040", "password": PASSWORD})
    assert response.status_code == 400
    assert "Your form expired" in response.get_data(as_text=True)
    assert client.get("/account/").status_code == 302


def test_a_remembered_login_on_the_other_phone_also_ends_when_the_password_changes(app, client, post_form):
    UserFactory(phone="+8613800138023")
    other_phone = app.test_client()
    token = csrf_token_from(other_phone)
    other_phone.post("/account/login", data={"phone": "13800138023", "password": PASSWORD, "remember": "y",
                                             "csrf_token": token})
    other_phone.delete_cookie("session")  # the browser was closed; only the remember-me cookie is left
    assert other_phone.get("/account/").status_code == 200, "remember-me logs the phone back in"

    post_form("/account/login", {"phone": "13800138023", "password": PASSWORD})
    post_form("/account/", {"current_password": PASSWORD, "new_password": "Brand-new-2027",
                            "confirm": "Brand-new-2027"})

    other_phone.delete_cookie("session")
    assert other_phone.get("/account/").status_code == 302
