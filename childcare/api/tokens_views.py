"""Account settings → access tokens: a person creates and revokes personal tokens for the JSON API."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import StringField
from wtforms.validators import Length

from childcare.api import auth
from childcare.db import unit_of_work
from childcare.errors import DomainError, attach_to_form
from childcare.forms import AppForm

bp = Blueprint("api_tokens", __name__, url_prefix="/account/tokens")


class CreateTokenForm(AppForm):
    """A label for the new token, to recognise it later."""

    name = StringField(_l("What is this token for?"), validators=[Length(max=80)],
                       description=_l("For example: the community mini-program."))


class RevokeTokenForm(AppForm):
    """CSRF only."""


def _page(form: CreateTokenForm, new_token: str | None = None, status: int = 200):
    with unit_of_work():
        tokens = auth.tokens_of(current_user)
    response = render_template("api_tokens/index.html", form=form, tokens=tokens,
                               new_token=new_token)
    # The new token is shown once: the page must not be kept by a cache or the browser's history.
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/")
def index():
    return _page(CreateTokenForm())


@bp.post("/")
def create():
    form = CreateTokenForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        with unit_of_work():
            _api_token, token = auth.create_token(actor=current_user, name=form.name.data or "")
    except DomainError as error:
        if not attach_to_form(form, error):
            flash(error.detail, "error")
        return _page(form, status=422)
    flash(_("Your new access token is shown below. Copy it now: it will not be shown again."), "success")
    return _page(CreateTokenForm(formdata=None), new_token=token)


@bp.post("/<int:token_id>/revoke")
def revoke(token_id: int):
    form = RevokeTokenForm()
    if form.validate_on_submit():
        with unit_of_work():
            auth.revoke_token(actor=current_user, token_id=token_id)
        flash(_("The access token has been revoked. It no longer works."), "success")
    return redirect(url_for("api_tokens.index"))
