"""My children: a guardian adds and edits children, names pickup persons and invites a second guardian."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from childcare.accounts.services import national_phone
from childcare.children import queries, services
from childcare.children.forms import (
    AddChildForm,
    ChildForm,
    InviteForm,
    PickupPersonForm,
    RemoveChildForm,
    grade_title,
)
from childcare.children.models import Child, PickupPerson
from childcare.db import unit_of_work
from childcare.errors import DomainError, Forbidden, NotFound, refuse_on_form

bp = Blueprint("children", __name__, url_prefix="/children")


def _render(template: str, **context):
    return render_template(f"children/{template}.html", grade_title=grade_title, national_phone=national_phone,
                           **context)




def _refuse_with_flash(error: DomainError) -> None:
    if isinstance(error, Forbidden | NotFound):
        raise error
    flash(error.detail, "error")


def _my_child(child_id: int) -> Child:
    """The reader's child; anyone else's answers 404, as if it did not exist."""
    child = queries.get_child_for_guardian(current_user, child_id)
    if child is None:
        raise NotFound()
    return child


def _child_data(child: Child) -> dict:
    return {"name": child.name, "gender": child.gender.value if child.gender else "",
            "birth_date": child.birth_date, "grade": "" if child.grade is None else str(child.grade),
            "school": child.school, "allergies": child.allergies, "medical_notes": child.medical_notes,
            "special_needs": child.special_needs, "photo_consent": child.photo_consent,
            "may_go_home_alone": child.may_go_home_alone, "emergency_contact_name": child.emergency_contact_name,
            "emergency_contact_phone": national_phone(child.emergency_contact_phone)
            if child.emergency_contact_phone else ""}


def _show_page(child: Child, *, pickup_form: PickupPersonForm | None = None, invite_form: InviteForm | None = None):
    return _render("show", child=child, invitations=queries.open_invitations_of(child),
                   pickup_form=pickup_form or PickupPersonForm(formdata=None),
                   invite_form=invite_form or InviteForm(formdata=None))


def _back_to(child_id: int, anchor: str | None = None):
    return redirect(url_for("children.show", child_id=child_id, _anchor=anchor))


# ---- children ------------------------------------------------------------------------------------------------


@bp.get("/")
def index():
    return _render("index", children=queries.children_of(current_user),
                   invitations=services.pending_invitations_for(current_user))


@bp.route("/add", methods=["GET", "POST"])
def add():
    form = AddChildForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                child = services.add_child(actor=current_user, relation=form.relation.data,
                                           consent=bool(form.consent.data), **form.child_values())
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("%(name)s has been added.", name=child.name), "success")
            return _back_to(child.id)
    return _render("add", form=form, consent_text=services.CONSENT_TEXT)


@bp.get("/<int:child_id>")
def show(child_id: int):
    return _show_page(_my_child(child_id))


@bp.route("/<int:child_id>/edit", methods=["GET", "POST"])
def edit(child_id: int):
    child = _my_child(child_id)
    form = ChildForm(data=_child_data(child))
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.update_child(actor=current_user, child_id=child_id, **form.child_values())
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("Your changes have been saved."), "success")
            return _back_to(child_id)
    return _render("edit", form=form, child=child)


@bp.route("/<int:child_id>/remove", methods=["GET", "POST"])
def remove(child_id: int):
    child = _my_child(child_id)
    name = child.name
    form = RemoveChildForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.remove_child(actor=current_user, child_id=child_id)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("%(name)s has been removed.", name=name), "success")
            return redirect(url_for("children.index"))
    return _render("remove", form=form, child=child)


# ---- pickup persons ------------------------------------------------------------------------------------------


@bp.post("/<int:child_id>/pickup-persons")
def add_pickup_person(child_id: int):
    form = PickupPersonForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                person = services.add_pickup_person(actor=current_user, child_id=child_id, name=form.name.data,
                                                    relation=form.relation.data, phone=form.phone.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("%(name)s may now pick up the child.", name=person.name), "success")
            return _back_to(child_id, "pickup-persons")
    return _show_page(_my_child(child_id), pickup_form=form)


def _my_pickup_person(child: Child, pickup_person_id: int) -> PickupPerson:
    for person in child.pickup_persons:
        if person.id == pickup_person_id:
            return person
    raise NotFound()


@bp.route("/<int:child_id>/pickup-persons/<int:pickup_person_id>/edit", methods=["GET", "POST"])
def edit_pickup_person(child_id: int, pickup_person_id: int):
    child = _my_child(child_id)
    person = _my_pickup_person(child, pickup_person_id)
    form = PickupPersonForm(data={"name": person.name, "relation": person.relation,
                                  "phone": national_phone(person.phone) if person.phone else ""})
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.update_pickup_person(actor=current_user, child_id=child_id,
                                              pickup_person_id=pickup_person_id, name=form.name.data,
                                              relation=form.relation.data, phone=form.phone.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("Your changes have been saved."), "success")
            return _back_to(child_id, "pickup-persons")
    return _render("edit_pickup_person", form=form, child=child, person=person)


def _set_blocked(child_id: int, pickup_person_id: int, *, blocked: bool):
    try:
        with unit_of_work():
            person = services.set_pickup_person_blocked(actor=current_user, child_id=child_id,
                                                        pickup_person_id=pickup_person_id, blocked=blocked)
    except DomainError as error:
        _refuse_with_flash(error)
    else:
        if blocked:
            flash(_("%(name)s is blocked and will be refused at pick-up.", name=person.name), "success")
        else:
            flash(_("%(name)s may pick up the child again.", name=person.name), "success")
    return _back_to(child_id, "pickup-persons")


@bp.post("/<int:child_id>/pickup-persons/<int:pickup_person_id>/block")
def block_pickup_person(child_id: int, pickup_person_id: int):
    return _set_blocked(child_id, pickup_person_id, blocked=True)


@bp.post("/<int:child_id>/pickup-persons/<int:pickup_person_id>/unblock")
def unblock_pickup_person(child_id: int, pickup_person_id: int):
    return _set_blocked(child_id, pickup_person_id, blocked=False)


@bp.post("/<int:child_id>/pickup-persons/<int:pickup_person_id>/remove")
def remove_pickup_person(child_id: int, pickup_person_id: int):
    try:
        with unit_of_work():
            services.remove_pickup_person(actor=current_user, child_id=child_id, pickup_person_id=pickup_person_id)
    except DomainError as error:
        _refuse_with_flash(error)
    else:
        flash(_("The pickup person has been removed."), "success")
    return _back_to(child_id, "pickup-persons")


# ---- second guardians ----------------------------------------------------------------------------------------


@bp.post("/<int:child_id>/invitations")
def invite(child_id: int):
    form = InviteForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.invite_guardian(actor=current_user, child_id=child_id, phone=form.phone.data,
                                         relation=form.relation.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("Invitation sent. It is valid for %(days)s days; they accept it after logging in with that "
                    "number.", days=services.INVITATION_VALID_FOR.days), "success")
            return _back_to(child_id, "guardians")
    return _show_page(_my_child(child_id), invite_form=form)


@bp.post("/<int:child_id>/invitations/<int:invitation_id>/cancel")
def cancel_invitation(child_id: int, invitation_id: int):
    try:
        with unit_of_work():
            services.cancel_invitation(actor=current_user, child_id=child_id, invitation_id=invitation_id)
    except DomainError as error:
        _refuse_with_flash(error)
    else:
        flash(_("The invitation has been withdrawn."), "success")
    return _back_to(child_id, "guardians")


@bp.post("/invitations/<int:invitation_id>/accept")
def accept_invitation(invitation_id: int):
    try:
        with unit_of_work():
            guardianship = services.accept_invitation(actor=current_user, invitation_id=invitation_id)
            child_id, name = guardianship.child_id, guardianship.child.name
    except DomainError as error:
        _refuse_with_flash(error)
        return redirect(url_for("children.index"))
    flash(_("You are now a guardian of %(name)s.", name=name), "success")
    return _back_to(child_id)


@bp.post("/invitations/<int:invitation_id>/decline")
def decline_invitation(invitation_id: int):
    try:
        with unit_of_work():
            services.decline_invitation(actor=current_user, invitation_id=invitation_id)
    except DomainError as error:
        _refuse_with_flash(error)
    else:
        flash(_("The invitation has been declined."), "success")
    return redirect(url_for("children.index"))
