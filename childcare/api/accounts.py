"""Accounts and tokens over the API: register, exchange credentials for a token, revoke it, who am I."""

from __future__ import annotations

from flask import current_app, g, request

from childcare.accounts import services
from childcare.accounts.models import User
from childcare.api import auth
from childcare.api.schemas import AccountCreate, AccountOut, RoleOut, TokenCreate, TokenOut
from childcare.api.views import endpoint, respond
from childcare.db import unit_of_work
from childcare.i18n import normalise_locale


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _register_limit() -> str:
    return current_app.config["RATELIMIT_REGISTER"]


def account_out(user: User) -> AccountOut:
    return AccountOut(id=user.id, phone=user.phone, name=user.name, locale=user.locale, created_at=user.created_at,
                      roles=[RoleOut(role=grant.role, community_id=grant.community_id) for grant in user.grants])


@endpoint("/accounts", "POST", summary="Register a guardian account", tag="accounts", auth=False,
          body=AccountCreate, response=AccountOut, status=201, errors=(400, 422, 429), limit=_register_limit)
def create_account(body: AccountCreate):
    """The same rules as the registration form: a valid mainland mobile number, not yet registered, a strong
    password. Rate-limited like the form."""
    # Remember the language the client asked in, as the form remembers the cookie's.
    locale = normalise_locale(request.accept_languages.best) if request.accept_languages else None
    with unit_of_work():
        user = services.register(phone=body.phone, password=body.password, name=body.name, locale=locale)
        answer = account_out(user)
    return respond(answer, 201)


@endpoint("/tokens", "POST", summary="Create a personal access token", tag="accounts", auth=False,
          body=TokenCreate, response=TokenOut, status=201, errors=(400, 401, 422, 429), limit=_login_limit)
def create_token(body: TokenCreate):
    """Exchange a mobile number and password for a bearer token. Rate-limited like the login form."""
    with unit_of_work():
        user = services.authenticate(phone=body.phone, password=body.password)
        _api_token, token = auth.create_token(actor=user, name=body.name or "API")
    return respond(TokenOut(token=token), 201)


@endpoint("/tokens/current", "DELETE", summary="Revoke the token of this request", tag="accounts", status=204,
          errors=(401,))
def revoke_current_token(actor: User):
    """Log out: the token sent with this request stops working at once."""
    with unit_of_work():
        auth.revoke_token(actor=actor, token_id=g.api_token_id)
    g.pop("api_token_touch", None)
    return respond(None, 204)


@endpoint("/me", "GET", summary="The account of the token, with its roles", tag="accounts", response=AccountOut,
          errors=(401,))
def me(actor: User):
    """Who the token belongs to, and the roles held (a coordinator's role names its community)."""
    with unit_of_work():
        answer = account_out(actor)
    return respond(answer)
