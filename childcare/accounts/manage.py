"""Administrators find people and give or take away their roles (coordinator of a community, volunteer, admin)."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import HiddenField, SelectChoice, SelectField, StringField
from wtforms.fields import enum_coerce
from wtforms.validators import DataRequired, Length

from childcare.accounts import services
from childcare.accounts.forms import REQUIRED
from childcare.accounts.models import Role, RoleGrant, User
from childcare.accounts.permissions import role_required
from childcare.db import db, unit_of_work
from childcare.errors import DomainError, InvalidInput, refuse_on_form
from childcare.forms import AppForm
from childcare.places.queries import all_communities

bp = Blueprint("people", __name__, url_prefix="/manage/people")

PAGE = 50
#: roles an administrator hands out here; everyone who registers is a guardian already
GRANTABLE = (Role.COORDINATOR, Role.VOLUNTEER, Role.ADMIN)


def _optional_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    return int(value)  # type: ignore[call-overload]


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(value=role.value, label=role.title) for role in GRANTABLE]


class GrantRoleForm(AppForm):
    phone = StringField(_l("Mobile number"), id="grant-phone", validators=[DataRequired(REQUIRED), Length(max=30)],
                        description=_l("The person must have registered with this number."),
                        render_kw={"inputmode": "tel", "autocomplete": "off"})
    role = SelectField(_l("Role"), id="grant-role", choices=_role_choices, coerce=enum_coerce(Role),
                       default=Role.COORDINATOR)
    #: choices are every community, set by the view
    community_id = SelectField(_l("Community"), id="grant-community", coerce=_optional_int,
                               description=_l("Only for a coordinator: the community they will run."))


class RevokeRoleForm(AppForm):
    role = HiddenField(validators=[DataRequired()])
    community_id = HiddenField()


def _community_choices(communities: list) -> list[SelectChoice]:
    return [SelectChoice(value="", label=_("Choose…"))] + [
        SelectChoice(value=c.id, label=c.full_name) for c in communities]


def _search(text: str, role: Role | None, page: int) -> tuple[list[User], bool]:
    """One page of people whose name or mobile number contains the text; True when more follow."""
    query = sa.select(User)
    if text:
        conditions = [User.name.contains(text, autoescape=True)]
        digits = re.sub(r"\D", "", text)
        if digits:
            conditions.append(User.phone.contains(digits, autoescape=True))
        query = query.where(sa.or_(*conditions))
    if role is not None:
        query = query.where(User.grants.any(RoleGrant.role == role))
    query = query.order_by(User.name, User.id).offset((page - 1) * PAGE).limit(PAGE + 1)
    people = list(db.session.scalars(query))
    return people[:PAGE], len(people) > PAGE


def _person_by_phone(phone: str) -> User:
    """The registered person with this number; roles are only given to people who have an account."""
    person = services.find_by_phone(services.normalise_phone(phone))
    if person is None:
        raise InvalidInput(_l("No one has registered with this mobile number yet."), field="phone")
    return person




def _search_page(form: GrantRoleForm | None = None, communities: list | None = None):
    text = request.args.get("q", "").strip()[:80]
    role = request.args.get("role", "")
    role_filter = Role(role) if role in {r.value for r in Role} else None
    page = max(request.args.get("page", 1, type=int), 1)
    people, more = _search(text, role_filter, page)
    communities = communities if communities is not None else all_communities()
    if form is None:
        form = GrantRoleForm(formdata=None)
        form.community_id.choices = _community_choices(communities)
    return render_template("people/manage/search.html", people=people, more=more, page=page, q=text,
                           role=role_filter, roles=list(Role), form=form,
                           community_names={c.id: c.full_name for c in communities})


@bp.get("/")
@role_required(Role.ADMIN)
def search():
    return _search_page()


def _show_page(person: User, form: GrantRoleForm | None = None, communities: list | None = None):
    communities = communities if communities is not None else all_communities()
    if form is None:
        form = GrantRoleForm(formdata=None)
        form.community_id.choices = _community_choices(communities)
    return render_template("people/manage/show.html", person=person, form=form,
                           community_names={c.id: c.full_name for c in communities})


@bp.get("/<int:user_id>")
@role_required(Role.ADMIN)
def show(user_id: int):
    return _show_page(db.get_or_404(User, user_id))


@bp.post("/grant")
@bp.post("/<int:user_id>/grant")
@role_required(Role.ADMIN)
def grant(user_id: int | None = None):
    """From the list the person is named by phone; from their own page by the address."""
    person = db.get_or_404(User, user_id) if user_id is not None else None
    communities = all_communities()
    form = GrantRoleForm()
    form.community_id.choices = _community_choices(communities)
    if person is not None:
        form.phone.data = services.national_phone(person.phone)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                person = person or _person_by_phone(form.phone.data)
                services.grant_role(actor=current_user, user=person, role=form.role.data,
                                    community_id=form.community_id.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            if form.role.data == Role.COORDINATOR:
                names = {c.id: c.full_name for c in communities}
                flash(_("%(name)s is now a coordinator of %(community)s.", name=person.name,
                        community=names.get(form.community_id.data, "")), "success")
            else:
                flash(_("%(name)s now has the role: %(role)s.", name=person.name, role=form.role.data.title),
                      "success")
            return redirect(url_for("people.show", user_id=person.id))
    if user_id is not None:
        return _show_page(db.get_or_404(User, user_id), form, communities)
    return _search_page(form, communities)


@bp.post("/<int:user_id>/revoke")
@role_required(Role.ADMIN)
def revoke(user_id: int):
    person = db.get_or_404(User, user_id)
    form = RevokeRoleForm()
    if not form.validate_on_submit() or form.role.data not in {r.value for r in Role}:
        abort(400)
    try:
        community_id = _optional_int(form.community_id.data)
    except ValueError:
        abort(400)
    role = Role(form.role.data)
    with unit_of_work():
        services.revoke_role(actor=current_user, user=person, role=role, community_id=community_id)
    flash(_("%(name)s no longer has the role: %(role)s.", name=person.name, role=role.title), "success")
    return redirect(url_for("people.show", user_id=person.id))
