"""The foundation's promises: every form needs its CSRF token, every page a login unless it is public,
every answer carries the security headers, errors answer politely, production refuses a weak secret."""

from urllib.parse import parse_qs, urlsplit

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _

from childcare.config import DEFAULT_SECRET_KEY, ProductionConfig
from childcare.errors import Busy, DomainError, Forbidden, InvalidInput, render_error
from childcare.security import is_public_endpoint, safe_next_url
from tests.api.conftest import make_token
from tests.conftest import csrf_token_from
from tests.factories import PASSWORD, AdminFactory, UserFactory

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _url(app, rule, method: str) -> str:
    """The rule's address with every URL parameter set to 1."""
    return app.url_map.bind("localhost").build(rule.endpoint, dict.fromkeys(rule.arguments, 1), method=method)


def _rules(app, methods: set[str]):
    """(rule, method) for every route outside the JSON API that accepts one of the methods."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            continue  # the API authenticates bearer tokens, not cookies, so it needs no CSRF token
        for method in sorted((rule.methods or set()) & methods):
            yield rule, method


# --- CSRF --------------------------------------------------------------------------------------------------------


def test_every_form_post_without_a_csrf_token_is_refused(app, client, login_as):
    login_as(AdminFactory())  # so that neither the login gate nor a role check answers first
    checked = set()
    for rule, method in _rules(app, WRITE_METHODS):
        url = _url(app, rule, method)
        response = client.open(url, method=method, data={"anything": "1"})
        assert response.status_code == 400, f"{method} {url} ({rule.endpoint}) answered {response.status_code}"
        checked.add(rule.endpoint)
    assert {"accounts.login", "accounts.register", "accounts.logout", "accounts.settings",
            "accounts.set_language"} <= checked
    assert client.get("/account/").status_code == 200, "the admin is still logged in: nothing was changed"


def test_a_csrf_token_from_another_session_is_refused(app, client, post_form):
    UserFactory(phone="+8613800138050")
    strangers_token = csrf_token_from(app.test_client())
    response = client.post("/account/login", data={"phone": "13800138050", "password": PASSWORD,
                                                   "csrf_token": strangers_token})
    assert response.status_code == 400


# --- the login gate ----------------------------------------------------------------------------------------------


def test_every_page_needs_a_login_unless_it_is_marked_public(app, client):
    private, public = set(), set()
    for rule, method in _rules(app, {"GET"}):
        url = _url(app, rule, method)
        response = client.get(url)
        location = response.headers.get("Location", "")
        sent_to_login = response.status_code == 302 and urlsplit(location).path == "/account/login"
        if is_public_endpoint(app, rule.endpoint):
            public.add(rule.endpoint)
            assert not sent_to_login, f"public {url} ({rule.endpoint}) sent the visitor to log in"
        else:
            private.add(rule.endpoint)
            assert sent_to_login, f"{url} ({rule.endpoint}) answered {response.status_code} to an anonymous visitor"
            assert parse_qs(urlsplit(location).query)["next"] == [url], "the visitor comes back after logging in"
    assert {"places.home", "accounts.login", "accounts.register", "static"} <= public
    assert {"accounts.settings", "notifications.inbox", "audit.entries"} <= private


def test_an_anonymous_form_post_to_a_private_page_is_refused(client, post_form):
    response = post_form("/account/logout", {}, token_from="/account/login")
    assert response.status_code == 401


def test_an_unknown_address_is_not_found_rather_than_a_login_prompt(client):
    assert client.get("/no-such-page").status_code == 404


# --- safe redirects ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil.example", "\\\\evil.example",
                                    "javascript:alert(1)", "/\t/evil.example", "/\r\n/evil.example", "  //evil.example",
                                    "http://localhost.evil.example/", "", None])
def test_a_next_address_off_the_site_is_dropped(app, target):
    with app.test_request_context("/"):
        assert safe_next_url(target) is None


@pytest.mark.parametrize("target", ["/", "/notifications/", "/communities/3?tab=programmes", "/account/#top"])
def test_a_next_address_on_the_site_is_kept(app, target):
    with app.test_request_context("/"):
        assert safe_next_url(target) == target


# --- headers and cookies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/account/login", "/no-such-page", "/static/css/app.css"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_refusals_carry_the_security_headers_too(client):
    response = client.post("/account/login", data={})
    assert response.status_code == 400
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def _cookie(response, name: str) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    assert cookies, f"no {name} cookie was set"
    return cookies[-1]


def test_the_session_and_remember_cookies_are_http_only_and_same_site_lax(client, post_form):
    UserFactory(phone="+8613800138051")
    response = post_form("/account/login", {"phone": "13800138051", "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    for name in ("session", "remember_token"):
        cookie = _cookie(response, name)
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie


def test_the_language_cookie_is_http_only_and_same_site_lax(client, post_form):
    response = post_form("/account/language", {"language": "en", "next": "/"}, token_from="/")
    assert response.status_code == 302
    cookie = _cookie(response, "lang")
    assert cookie.startswith("lang=en;")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil.example"])
def test_the_language_switch_never_sends_the_visitor_off_the_site(client, post_form, target):
    response = post_form("/account/language", {"language": "en", "next": target}, token_from="/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_header_the_view_set_itself_is_kept_and_the_others_are_added_once(app):
    with app.test_request_context("/"):
        response = app.process_response(app.response_class("x", headers={"x-frame-options": "SAMEORIGIN"}))
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert len(response.headers.getlist("Content-Security-Policy")) == 1
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_an_api_call_without_a_cookie_gets_no_cookie_back(app, client):
    with app.app_context():
        token = make_token(UserFactory())
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_the_api_neither_reads_nor_sets_the_browsers_session_cookie(app, client, login_as):
    # A guardian signed in on the site whose browser also calls the API: the cookie is no credential there, the
    # answer leaves the cookie alone and does not vary by it.
    guardian = UserFactory()
    login_as(guardian)
    assert client.get("/account/").status_code == 200
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401
    with app.app_context():
        token = make_token(guardian)
    answered = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert answered.status_code == 200
    for response in (refused, answered):
        assert "Set-Cookie" not in response.headers
        assert "Cookie" not in response.headers.get("Vary", "")
    assert client.get("/account/").status_code == 200  # still signed in on the site


def test_no_hsts_header_while_cookies_are_not_secure(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


# --- production configuration ------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", DEFAULT_SECRET_KEY, "short"])
def test_production_refuses_a_missing_default_or_short_secret_key(monkeypatch, tmp_path, secret):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")
    if secret is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        ProductionConfig.load(str(tmp_path))


def test_production_with_a_real_secret_sends_cookies_over_https_only(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")
    monkeypatch.setenv("SECRET_KEY", "k9-" + "x" * 40)
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    settings = ProductionConfig.load(str(tmp_path))
    assert settings["SECRET_KEY"] == "k9-" + "x" * 40
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"


# --- error pages -------------------------------------------------------------------------------------------------


def _in_chinese(app, msgid: str) -> str:
    with app.test_request_context("/"), force_locale("zh_CN"):
        return _(msgid)


def test_a_missing_page_is_explained_in_chinese_by_default(app, client):
    expected = _in_chinese(app, "Page not found")
    assert expected != "Page not found", "the zh_CN catalogue translates the 404 title"
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert expected in page


def test_a_missing_page_is_explained_in_english_when_chosen(client):
    client.set_cookie("lang", "en")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Page not found" in page


def test_an_api_client_gets_problem_details_for_a_missing_page(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "not_found" and response.json["status"] == 404


def test_a_refused_rule_in_a_view_is_a_422_page_not_a_500(app):
    with app.test_request_context("/somewhere"):
        response = app.make_response(app.handle_user_exception(InvalidInput("Nope, %(what)s.", what="never")))
    assert response.status_code == 422
    assert "Nope, never." in response.get_data(as_text=True)


def test_a_refused_rule_answers_an_api_client_with_its_code_and_field(app):
    error = DomainError("Too young.", field="birth_date", code="too_young")
    with app.test_request_context("/somewhere", headers={"Accept": "application/json"}):
        response = app.make_response(app.handle_user_exception(error))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "too_young"
    assert response.json["errors"] == [{"field": "birth_date", "code": "too_young", "detail": "Too young."}]


def test_a_forbidden_rule_is_a_403_page(app):
    with app.test_request_context("/somewhere"):
        response = app.make_response(app.handle_user_exception(Forbidden()))
    assert response.status_code == 403


def test_a_busy_lock_asks_to_try_again_in_a_second(app):
    with app.test_request_context("/api/v1/anything"):
        response = app.make_response(app.handle_user_exception(Busy()))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json["code"] == "busy"


def test_an_unexpected_error_is_a_polite_500_page(app):
    with app.test_request_context("/somewhere"):
        response = app.make_response(app.handle_user_exception(RuntimeError("boom")))
    assert response.status_code == 500
    assert "boom" not in response.get_data(as_text=True), "internals are not shown to the visitor"


def test_render_error_speaks_the_visitors_language(app):
    with app.test_request_context("/x", headers={"Cookie": "lang=en"}):
        body, status, _headers = render_error(429)
    assert status == 429
    assert "Too many attempts" in body
