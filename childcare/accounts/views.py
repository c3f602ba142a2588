"""Login, registration, logout, account settings and the language switch."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from childcare.accounts import services
from childcare.accounts.forms import ChangePasswordForm, LanguageForm, LoginForm, RegisterForm
from childcare.db import unit_of_work
from childcare.errors import DomainError, attach_to_form, flash_form_errors
from childcare.extensions import limiter
from childcare.i18n import LANGUAGE_COOKIE, normalise_locale
from childcare.security import public, safe_next_url

bp = Blueprint("accounts", __name__, url_prefix="/account")


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _register_limit() -> str:
    return current_app.config["RATELIMIT_REGISTER"]


def _only_posts() -> bool:
    return request.method != "POST"


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, exempt_when=_only_posts)
def login():
    if current_user.is_authenticated:
        return redirect(safe_next_url(request.args.get("next")) or url_for("places.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            with unit_of_work():
                user = services.authenticate(phone=form.phone.data, password=form.password.data)
        except DomainError as error:
            form.password.errors = [error.detail]
        else:
            login_user(user, remember=form.remember.data)
            flash(_("Welcome back, %(name)s.", name=user.name), "success")
            return redirect(safe_next_url(form.next.data) or url_for("places.home"))
    return render_template("accounts/login.html", form=form)


@bp.route("/register", methods=["GET", "POST"])
@public
@limiter.limit(_register_limit, exempt_when=_only_posts)
def register():
    if current_user.is_authenticated:
        return redirect(url_for("places.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        # The cookie is whatever the client sent: keep only a language we support (the column holds 10 characters).
        locale = normalise_locale(request.cookies.get(LANGUAGE_COOKIE))
        try:
            with unit_of_work():
                user = services.register(phone=form.phone.data, password=form.password.data,
                                         name=form.name.data, locale=locale)
        except DomainError as error:
            if not attach_to_form(form, error):
                flash(error.detail, "error")
        else:
            login_user(user)
            flash(_("Your account is ready. Welcome, %(name)s.", name=user.name), "success")
            return redirect(url_for("places.home"))
    return render_template("accounts/register.html", form=form)


@bp.post("/logout")
def logout():
    logout_user()
    flash(_("You have logged out."), "success")
    return redirect(url_for("places.home"))


@bp.route("/", methods=["GET", "POST"])
def settings():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.change_password(actor=current_user, current_password=form.current_password.data,
                                         new_password=form.new_password.data)
        except DomainError as error:
            if not attach_to_form(form, error):
                flash(error.detail, "error")
        else:
            login_user(current_user._get_current_object())  # keep this session, others end
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("accounts.settings"))
    return render_template("accounts/settings.html", form=form)


@bp.post("/language")
@public
def set_language():
    form = LanguageForm()
    target = safe_next_url(form.next.data) or url_for("places.home")
    if not form.validate_on_submit():
        flash_form_errors(form)  # a language we do not offer, say so rather than ignore the press
        return redirect(target)
    language = form.language.data
    if current_user.is_authenticated:
        with unit_of_work():
            services.set_locale(actor=current_user, locale=language)
    response = redirect(target)
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                        secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response
