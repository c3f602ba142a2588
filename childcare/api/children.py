"""A guardian's children over the API: only their own (anyone else's answers 404)."""

from __future__ import annotations

from childcare.accounts.models import User
from childcare.api.schemas import ChildCreate, ChildOut, ChildUpdate, Page, PickupPersonOut
from childcare.api.views import endpoint, respond
from childcare.children import queries, services
from childcare.children.models import Child
from childcare.db import unit_of_work
from childcare.errors import NotFound


def child_out(child: Child) -> ChildOut:
    return ChildOut(id=child.id, name=child.name, gender=child.gender, birth_date=child.birth_date,
                    grade=child.grade, school=child.school, allergies=child.allergies,
                    medical_notes=child.medical_notes, special_needs=child.special_needs,
                    photo_consent=child.photo_consent, may_go_home_alone=child.may_go_home_alone,
                    emergency_contact_name=child.emergency_contact_name,
                    emergency_contact_phone=child.emergency_contact_phone,
                    pickup_persons=[PickupPersonOut(id=p.id, name=p.name, relation=p.relation, phone=p.phone,
                                                    blocked=p.blocked) for p in child.pickup_persons])


def _mine(actor: User, child_id: int) -> Child:
    child = queries.get_child_for_guardian(actor, child_id)
    if child is None:
        raise NotFound()
    return child


@endpoint("/children", "GET", summary="My children", tag="children", response=Page[ChildOut])
def list_children(actor: User):
    """The children of the token's account, with their pickup persons."""
    with unit_of_work():
        items = [child_out(child) for child in queries.children_of(actor)]
    return respond(Page[ChildOut](items=items))


@endpoint("/children", "POST", summary="Add a child", tag="children", body=ChildCreate, response=ChildOut,
          status=201, errors=(422,))
def create_child(actor: User, body: ChildCreate):
    """Add a child with the guardian's consent (`consent: true`); the account becomes its guardian."""
    fields = {key: getattr(body, key) for key in body.model_fields_set}
    fields["pickup_persons"] = [person.model_dump() for person in body.pickup_persons]
    with unit_of_work():
        child = services.add_child(actor=actor, **fields)
        answer = child_out(_mine(actor, child.id))
    return respond(answer, 201)


@endpoint("/children/<int:child_id>", "GET", summary="One of my children", tag="children", response=ChildOut)
def get_child(actor: User, child_id: int):
    """A child of the token's account; anyone else's answers 404."""
    with unit_of_work():
        answer = child_out(_mine(actor, child_id))
    return respond(answer)


@endpoint("/children/<int:child_id>", "PATCH", summary="Change a child's details", tag="children",
          body=ChildUpdate, response=ChildOut, errors=(422,))
def update_child(actor: User, child_id: int, body: ChildUpdate):
    """Only the fields sent change; `pickup_persons`, when sent, replaces the whole list. All of it, or nothing."""
    fields = {key: getattr(body, key) for key in body.model_fields_set - {"pickup_persons"}}
    with unit_of_work():
        child = services.update_child(actor=actor, child_id=child_id, **fields)
        if "pickup_persons" in body.model_fields_set:
            services.replace_pickup_persons(actor=actor, child_id=child.id,
                                            persons=[person.model_dump() for person in body.pickup_persons])
        answer = child_out(child)
    return respond(answer)


@endpoint("/children/<int:child_id>", "DELETE", summary="Remove a child", tag="children", status=204)
def delete_child(actor: User, child_id: int):
    """A child without history is deleted; one with enrolments or leave is anonymised (history kept)."""
    with unit_of_work():
        services.remove_child(actor=actor, child_id=child_id)
    return respond(None, 204)
