"""Children: guardians add them with consent, share them with a second guardian, and name pickup persons."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from childcare.accounts.models import User
from childcare.accounts.services import InvalidPhone, find_by_phone, masked_phone, normalise_phone
from childcare.audit.services import record
from childcare.children.models import (
    Child,
    ConsentRecord,
    Gender,
    GuardianInvitation,
    Guardianship,
    PickupPerson,
)
from childcare.db import db, utcnow
from childcare.errors import DomainError, InvalidInput, NotFound
from childcare.i18n import local_today
from childcare.notifications.kinds import register_kind
from childcare.notifications.services import notify

#: the version of CONSENT_TEXT; a new wording gets a new version, so each record names what was agreed to
CONSENT_TEXT_VERSION = "minor-pi-2026-01"
CONSENT_TEXT = _l(
    "I am this child's parent or legal guardian. I agree that the community stores and uses the child's personal "
    "information entered here (name, birth date, school, health notes, pickup persons and emergency contact) only "
    "to run the classes and camps I sign the child up for: enrolment, attendance, safe pick-up and emergencies. "
    "Only the child's guardians and the coordinators and volunteers of the child's sessions see it. I can change "
    "or remove it at any time under My children."
)
#: what an anonymised child is called (stored in the default language: rosters keep a readable row)
REMOVED_CHILD_NAME = _l("Removed child")

NAME_MAX = 60
SCHOOL_MAX = 120
RELATION_MAX = 30
ALLERGIES_MAX = 500
NOTES_MAX = 1000
ADULT_AGE = 18
GRADE_MIN, GRADE_MAX = 0, 9
MAX_PICKUP_PERSONS = 10
#: open invitations per child: each may send an SMS, so there is a ceiling
MAX_OPEN_INVITATIONS = 5
INVITATION_VALID_FOR = timedelta(days=7)

#: what update_child may change
EDITABLE_FIELDS = frozenset({
    "name", "gender", "birth_date", "school", "grade", "allergies", "medical_notes", "special_needs",
    "photo_consent", "may_go_home_alone", "emergency_contact_name", "emergency_contact_phone",
})
#: personal data never copied into the audit trail: it says "changed" instead, so anonymising is complete
PERSONAL_FIELDS = frozenset({
    "name", "birth_date", "school", "allergies", "medical_notes", "special_needs",
    "emergency_contact_name", "emergency_contact_phone",
})
CHANGED = "changed"

# children sits below enrolment (and attendance) and must not import their models; it reads their tables by
# name to learn whether a child has history that must be kept. Add a table here when a feature keeps history.
HISTORY_TABLES = (
    sa.table("enrolments", sa.column("child_id")),
    sa.table("leaves", sa.column("child_id")),
)

register_kind("children.guardian_invited", _l("Invitation to be a guardian"),
              _l("%(inviter)s invites you to be a guardian of %(child)s. Open My children to accept."))
register_kind("children.guardian_accepted", _l("A guardian joined"),
              _l("%(name)s is now a guardian of %(child)s."))


class ConsentRequired(DomainError):
    """A child's data is kept only with the guardian's separate consent."""

    code = "consent_required"
    default_message = _l("Please read and agree to how the child's information is used.")


class InvalidChild(InvalidInput):
    """A child's or a pickup person's details are missing, too long or out of range."""

    code = "invalid_child"


class AlreadyGuardian(DomainError):
    """The person invited, or accepting, already is a guardian of the child."""

    code = "already_guardian"
    default_message = _l("This person is already a guardian of the child.")


class InvitationClosed(DomainError):
    """The invitation was accepted or declined already."""

    code = "invitation_closed"
    default_message = _l("This invitation has already been answered.")


class InvitationExpired(DomainError):
    """The invitation is older than its seven days."""

    code = "invitation_expired"
    default_message = _l("This invitation has expired. Please ask for a new one.")


class TooMany(DomainError):
    """A per-child ceiling (pickup persons, open invitations) is reached."""

    code = "too_many"


class RemovalOutcome(enum.StrEnum):
    """What remove_child did: a child without history is deleted, one with history anonymised."""

    DELETED = "deleted"
    ANONYMISED = "anonymised"


# ---- access --------------------------------------------------------------------------------------------------


def is_guardian_of(actor: User, child: Child) -> bool:
    """True when the actor is one of the child's guardians."""
    if "guardianships" in child.__dict__:  # already loaded: no query
        return any(g.user_id == actor.id for g in child.guardianships)
    return db.session.scalar(sa.select(sa.exists().where(Guardianship.child_id == child.id,
                                                         Guardianship.user_id == actor.id))) or False


def ensure_guardian_of(actor: User, child: Child | None) -> Child:
    """The child, if the actor is its guardian; someone else's child is 'not found', as if it did not exist."""
    if child is None or actor is None or not getattr(actor, "id", None) or not is_guardian_of(actor, child):
        raise NotFound()
    return child


def _child(actor: User, child_id: int) -> Child:
    return ensure_guardian_of(actor, db.session.get(Child, child_id))


def _pickup_person(actor: User, child_id: int, pickup_person_id: int) -> tuple[Child, PickupPerson]:
    child = _child(actor, child_id)
    person = db.session.get(PickupPerson, pickup_person_id)
    if person is None or person.child_id != child.id:
        raise NotFound()
    return child, person


# ---- input checks --------------------------------------------------------------------------------------------




def _text(value: Any, *, limit: int, field: str, required: bool = False) -> str:
    text = ("" if value is None else str(value)).strip()
    if required and not text:
        raise InvalidChild(_l("Please enter a name."), field=field)
    if len(text) > limit:
        raise InvalidChild(_l("This may have at most %(n)s characters."), field=field, n=limit)
    return text


def _phone(value: Any, *, field: str) -> str:
    """An optional mobile number in E.164 form; refused on the given field when malformed."""
    if not (value or "").strip():
        return ""
    try:
        return normalise_phone(value)
    except InvalidPhone:
        raise InvalidPhone(field=field) from None


def _gender(value: Any) -> Gender | None:
    if value is None or value == "":
        return None
    try:
        return Gender(value)
    except ValueError:
        raise InvalidChild(_l("Please choose one of the listed options."), field="gender") from None


def _birth_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value))
        except ValueError:
            raise InvalidChild(_l("Please enter a date such as 2018-09-01."), field="birth_date") from None
    today = local_today()
    if value > today:
        raise InvalidChild(_l("The birth date cannot be in the future."), field="birth_date")
    age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
    if age >= ADULT_AGE:
        raise InvalidChild(_l("Only children under %(n)s can be added."), field="birth_date", n=ADULT_AGE)
    return value


def _grade(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        grade = int(value)
    except (TypeError, ValueError):
        grade = -1
    if not GRADE_MIN <= grade <= GRADE_MAX:
        raise InvalidChild(_l("Please choose a grade from kindergarten to junior middle grade 3."), field="grade")
    return grade


_CLEANERS = {
    "name": lambda v: _text(v, limit=NAME_MAX, field="name", required=True),
    "gender": _gender,
    "birth_date": _birth_date,
    "school": lambda v: _text(v, limit=SCHOOL_MAX, field="school"),
    "grade": _grade,
    "allergies": lambda v: _text(v, limit=ALLERGIES_MAX, field="allergies"),
    "medical_notes": lambda v: _text(v, limit=NOTES_MAX, field="medical_notes"),
    "special_needs": lambda v: _text(v, limit=NOTES_MAX, field="special_needs"),
    "photo_consent": bool,
    "may_go_home_alone": bool,
    "emergency_contact_name": lambda v: _text(v, limit=NAME_MAX, field="emergency_contact_name"),
    "emergency_contact_phone": lambda v: _phone(v, field="emergency_contact_phone"),
}


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"not a child field: {', '.join(sorted(unknown))}")
    return {key: _CLEANERS[key](value) for key, value in values.items()}


def _check_emergency_contact(name: str, phone: str) -> None:
    """An emergency contact is useful only with both a name and a number."""
    if phone and not name:
        raise InvalidChild(_l("Please enter the emergency contact's name."), field="emergency_contact_name")
    if name and not phone:
        raise InvalidChild(_l("Please enter the emergency contact's mobile number."), field="emergency_contact_phone")


def _pickup_values(name: Any, relation: Any, phone: Any) -> dict[str, str]:
    return {"name": _text(name, limit=NAME_MAX, field="name", required=True),
            "relation": _text(relation, limit=RELATION_MAX, field="relation"),
            "phone": _phone(phone, field="phone")}


def _audit_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values fit for the audit trail: personal data only as 'changed'."""
    return {key: (CHANGED if key in PERSONAL_FIELDS and value not in (None, "") else value)
            for key, value in values.items()}


def _pickup_audit(person: PickupPerson) -> dict[str, Any]:
    return {"child_id": person.child_id, "relation": person.relation, "blocked": person.blocked,
            "phone": masked_phone(person.phone) if person.phone else ""}


# ---- children ------------------------------------------------------------------------------------------------


def add_child(*, actor: User, name: str, gender: Gender | str | None = None, birth_date: date | str | None = None,
              school: str = "", grade: int | str | None = None, allergies: str = "", medical_notes: str = "",
              special_needs: str = "", photo_consent: bool = False, may_go_home_alone: bool = False,
              emergency_contact_name: str = "", emergency_contact_phone: str = "",
              pickup_persons: Iterable[Mapping[str, Any]] = (), consent: bool, relation: str = "") -> Child:
    """A guardian adds a child, consenting to how its data is used; the actor becomes its guardian."""
    if consent is not True:
        raise ConsentRequired(field="consent")
    values = _clean({
        "name": name, "gender": gender, "birth_date": birth_date, "school": school, "grade": grade,
        "allergies": allergies, "medical_notes": medical_notes, "special_needs": special_needs,
        "photo_consent": photo_consent, "may_go_home_alone": may_go_home_alone,
        "emergency_contact_name": emergency_contact_name, "emergency_contact_phone": emergency_contact_phone,
    })
    _check_emergency_contact(values["emergency_contact_name"], values["emergency_contact_phone"])
    relation = _text(relation, limit=RELATION_MAX, field="relation")
    persons = []
    for index, person in enumerate(pickup_persons):
        try:
            persons.append(_pickup_values(person.get("name"), person.get("relation"), person.get("phone")))
        except DomainError as error:
            # The API names the person in the list, e.g. pickup_persons.0.phone.
            error.field = f"pickup_persons.{index}.{error.field}"
            raise
    if len(persons) > MAX_PICKUP_PERSONS:
        raise TooMany(_l("A child may have at most %(n)s pickup persons."), field="pickup_persons",
                      n=MAX_PICKUP_PERSONS)

    child = Child(**values)
    child.guardianships.append(Guardianship(user_id=actor.id, relation=relation))
    child.pickup_persons.extend(PickupPerson(**p) for p in persons)
    db.session.add(child)
    db.session.flush()
    db.session.add(ConsentRecord(child_id=child.id, user_id=actor.id, text_version=CONSENT_TEXT_VERSION))
    record(actor=actor, action="child.added", obj=child,
           after={**_audit_values(values), "relation": relation, "pickup_persons": len(persons),
                  "consent_version": CONSENT_TEXT_VERSION})
    for person in child.pickup_persons:
        record(actor=actor, action="pickup_person.added", obj=person, after=_pickup_audit(person))
    return child


def update_child(*, actor: User, child_id: int, **fields: Any) -> Child:
    """A guardian changes the child's details; only the fields given change."""
    child = _child(actor, child_id)
    values = _clean(fields)
    _check_emergency_contact(values.get("emergency_contact_name", child.emergency_contact_name),
                             values.get("emergency_contact_phone", child.emergency_contact_phone))
    changed = {key: value for key, value in values.items() if getattr(child, key) != value}
    if not changed:
        return child
    before = _audit_values({key: getattr(child, key) for key in changed})
    for key, value in changed.items():
        setattr(child, key, value)
    db.session.flush()
    record(actor=actor, action="child.updated", obj=child, before=before, after=_audit_values(changed))
    return child


def _has_history(child_id: int) -> bool:
    checks = [sa.exists().where(table.c.child_id == child_id) for table in HISTORY_TABLES]
    return bool(db.session.scalar(sa.select(sa.or_(*checks))))


def remove_child(*, actor: User, child_id: int) -> RemovalOutcome:
    """A guardian removes a child: deleted without history, anonymised (history kept) with it."""
    child = _child(actor, child_id)
    now = utcnow()
    # Removing the child withdraws the consent; the records themselves stay as proof of what was agreed.
    db.session.execute(sa.update(ConsentRecord)
                       .where(ConsentRecord.child_id == child.id, ConsentRecord.withdrawn_at.is_(None))
                       .values(withdrawn_at=now).execution_options(synchronize_session=False))
    db.session.execute(sa.delete(GuardianInvitation).where(GuardianInvitation.child_id == child.id)
                       .execution_options(synchronize_session=False))
    if not _has_history(child.id):
        record(actor=actor, action="child.removed", obj=child)
        db.session.delete(child)
        db.session.flush()
        return RemovalOutcome.DELETED

    # Enrolments, leave and attendance must keep adding up in reports: keep the row, blank the person.
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        child.name = str(REMOVED_CHILD_NAME)
    child.gender = None
    child.birth_date = None
    child.school = ""
    child.allergies = ""
    child.medical_notes = ""
    child.special_needs = ""
    child.photo_consent = False
    child.emergency_contact_name = ""
    child.emergency_contact_phone = ""
    child.anonymised_at = now
    child.pickup_persons.clear()
    child.guardianships.clear()
    db.session.flush()
    record(actor=actor, action="child.anonymised", obj=child)
    return RemovalOutcome.ANONYMISED


# ---- pickup persons ------------------------------------------------------------------------------------------


def add_pickup_person(*, actor: User, child_id: int, name: str, relation: str = "", phone: str = "") -> PickupPerson:
    """A guardian authorises someone to take the child home."""
    child = _child(actor, child_id)
    values = _pickup_values(name, relation, phone)
    count = db.session.scalar(sa.select(sa.func.count(PickupPerson.id)).where(PickupPerson.child_id == child.id))
    if (count or 0) >= MAX_PICKUP_PERSONS:
        raise TooMany(_l("A child may have at most %(n)s pickup persons."), field="name", n=MAX_PICKUP_PERSONS)
    person = PickupPerson(child_id=child.id, **values)
    db.session.add(person)
    db.session.flush()
    record(actor=actor, action="pickup_person.added", obj=person, after=_pickup_audit(person))
    return person


def update_pickup_person(*, actor: User, child_id: int, pickup_person_id: int, name: str, relation: str = "",
                         phone: str = "") -> PickupPerson:
    """A guardian corrects a pickup person's name, relation or number."""
    _child_obj, person = _pickup_person(actor, child_id, pickup_person_id)
    values = _pickup_values(name, relation, phone)
    changed = {key: value for key, value in values.items() if getattr(person, key) != value}
    if not changed:
        return person
    before = _pickup_audit(person)
    for key, value in changed.items():
        setattr(person, key, value)
    db.session.flush()
    record(actor=actor, action="pickup_person.updated", obj=person, before=before, after=_pickup_audit(person))
    return person


def set_pickup_person_blocked(*, actor: User, child_id: int, pickup_person_id: int, blocked: bool) -> PickupPerson:
    """Block a person (they are refused at check-out) or lift the block."""
    _child_obj, person = _pickup_person(actor, child_id, pickup_person_id)
    if person.blocked == bool(blocked):
        return person
    person.blocked = bool(blocked)
    db.session.flush()
    record(actor=actor, action="pickup_person.blocked" if blocked else "pickup_person.unblocked", obj=person,
           after=_pickup_audit(person))
    return person


def remove_pickup_person(*, actor: User, child_id: int, pickup_person_id: int) -> None:
    """A guardian takes a pickup person off the list."""
    _child_obj, person = _pickup_person(actor, child_id, pickup_person_id)
    record(actor=actor, action="pickup_person.removed", obj=person, before=_pickup_audit(person))
    db.session.delete(person)
    db.session.flush()


@contextlib.contextmanager
def _listed_at(index: int) -> Iterator[None]:
    """A refusal about one entry of a list of pickup persons names it, as the API does: pickup_persons.1.phone."""
    try:
        yield
    except DomainError as error:
        error.field = f"pickup_persons.{index}.{error.field}" if error.field else f"pickup_persons.{index}"
        raise


def replace_pickup_persons(*, actor: User, child_id: int, persons: Iterable[Mapping[str, Any]]) -> list[PickupPerson]:
    """A guardian sends the whole list: an entry with an id changes that person, one without adds a person, and
    persons not listed are removed."""
    child = _child(actor, child_id)
    # Each per-person service below checks the guardianship again; with the guardians loaded once, it does so
    # without a query each (is_guardian_of).
    db.session.refresh(child, ["guardianships"])
    entries = list(persons)
    existing = {person.id: person for person in db.session.scalars(
        sa.select(PickupPerson).where(PickupPerson.child_id == child.id))}
    # Every entry is checked before anything is written, so that one bad entry changes nothing (the services
    # below flush as they go, and a caller that catches the refusal must not be left with half a list).
    listed: set[int] = set()
    for index, entry in enumerate(entries):
        with _listed_at(index):
            _pickup_values(entry.get("name"), entry.get("relation"), entry.get("phone"))
            person_id = entry.get("id")
            if person_id is None:
                continue
            # Only this child's persons: an id of another child's person is refused, never looked at.
            if person_id not in existing:
                raise InvalidChild(_l("This is not one of this child's pickup persons."), field="id")
            if person_id in listed:
                raise InvalidChild(_l("This pickup person is listed twice."), field="id")
            listed.add(person_id)
    if len(entries) > MAX_PICKUP_PERSONS:
        raise TooMany(_l("A child may have at most %(n)s pickup persons."), field="pickup_persons",
                      n=MAX_PICKUP_PERSONS)

    # Removed first, so that the ceiling add_pickup_person checks counts the new list, not the old one.
    for person_id in sorted(existing.keys() - listed):
        remove_pickup_person(actor=actor, child_id=child.id, pickup_person_id=person_id)
    result = []
    for index, entry in enumerate(entries):
        with _listed_at(index):
            values = {key: entry.get(key) or "" for key in ("name", "relation", "phone")}
            if entry.get("id") is None:
                person = add_pickup_person(actor=actor, child_id=child.id, **values)
            else:
                person = update_pickup_person(actor=actor, child_id=child.id, pickup_person_id=entry["id"], **values)
            if entry.get("blocked") is not None:
                person = set_pickup_person_blocked(actor=actor, child_id=child.id, pickup_person_id=person.id,
                                                   blocked=bool(entry["blocked"]))
        result.append(person)
    # The per-person services write rows, not the child's loaded list: read it afresh when next asked.
    db.session.expire(child, ["pickup_persons"])
    return result


# ---- second guardians ----------------------------------------------------------------------------------------


def _is_open(invitation: GuardianInvitation) -> bool:
    return invitation.accepted_at is None and invitation.declined_at is None and invitation.expires_at > utcnow()


def _open_invitations_clause():
    return sa.and_(GuardianInvitation.accepted_at.is_(None), GuardianInvitation.declined_at.is_(None),
                   GuardianInvitation.expires_at > utcnow())


def invite_guardian(*, actor: User, child_id: int, phone: str, relation: str = "") -> GuardianInvitation:
    """A guardian invites another by mobile number; the invitation is valid for seven days."""
    child = _child(actor, child_id)
    phone = _phone(phone, field="phone")
    if not phone:
        raise InvalidPhone(_l("Please enter the mobile number of the person you invite."), field="phone")
    relation = _text(relation, limit=RELATION_MAX, field="relation")
    invitee = find_by_phone(phone)
    if phone == actor.phone or (invitee is not None and is_guardian_of(invitee, child)):
        raise AlreadyGuardian(field="phone")
    open_ones = list(db.session.scalars(sa.select(GuardianInvitation).where(
        GuardianInvitation.child_id == child.id, _open_invitations_clause())))
    for invitation in open_ones:
        if invitation.phone == phone:
            return invitation  # asked twice: one invitation, one message
    if len(open_ones) >= MAX_OPEN_INVITATIONS:
        raise TooMany(_l("This child already has %(n)s open invitations."), field="phone", n=MAX_OPEN_INVITATIONS)
    now = utcnow()
    invitation = GuardianInvitation(child_id=child.id, invited_by_id=actor.id, phone=phone, relation=relation,
                                    created_at=now, expires_at=now + INVITATION_VALID_FOR)
    db.session.add(invitation)
    db.session.flush()
    record(actor=actor, action="guardian.invited", obj=child,
           after={"invitation_id": invitation.id, "phone": masked_phone(phone), "relation": relation})
    if invitee is not None:
        notify(invitee, "children.guardian_invited", link="/children/", inviter=actor.name, child=child.name)
    return invitation


def _invitation_for(actor: User, invitation_id: int) -> GuardianInvitation:
    """The invitation addressed to the actor's number; anyone else's answers 'not found'."""
    invitation = db.session.get(GuardianInvitation, invitation_id)
    if invitation is None or not getattr(actor, "phone", None) or invitation.phone != actor.phone:
        raise NotFound()
    if invitation.accepted_at is not None or invitation.declined_at is not None:
        raise InvitationClosed()
    if invitation.expires_at <= utcnow():
        raise InvitationExpired()
    return invitation


def accept_invitation(*, actor: User, invitation_id: int) -> Guardianship:
    """The invited person becomes a guardian of the child."""
    invitation = _invitation_for(actor, invitation_id)
    child = invitation.child
    if is_guardian_of(actor, child):
        raise AlreadyGuardian(_l("You are already a guardian of this child."))
    guardianship = Guardianship(child_id=child.id, user_id=actor.id, relation=invitation.relation)
    try:
        with db.session.begin_nested():
            db.session.add(guardianship)
    except sa.exc.IntegrityError:
        # Accepted twice at once: the unique constraint on (child, user) decides.
        raise AlreadyGuardian(_l("You are already a guardian of this child.")) from None
    invitation.accepted_at = utcnow()
    db.session.flush()
    record(actor=actor, action="guardian.accepted", obj=child,
           after={"invitation_id": invitation.id, "user_id": actor.id, "relation": invitation.relation})
    inviter = db.session.get(User, invitation.invited_by_id)
    if inviter is not None:
        notify(inviter, "children.guardian_accepted", link=f"/children/{child.id}", name=actor.name,
               child=child.name)
    return guardianship


def decline_invitation(*, actor: User, invitation_id: int) -> GuardianInvitation:
    """The invited person says no."""
    invitation = _invitation_for(actor, invitation_id)
    invitation.declined_at = utcnow()
    db.session.flush()
    record(actor=actor, action="guardian.declined", obj=invitation.child, after={"invitation_id": invitation.id})
    return invitation


def cancel_invitation(*, actor: User, child_id: int, invitation_id: int) -> None:
    """A guardian of the child withdraws an open invitation."""
    child = _child(actor, child_id)
    invitation = db.session.get(GuardianInvitation, invitation_id)
    if invitation is None or invitation.child_id != child.id:
        raise NotFound()
    if not _is_open(invitation):
        raise InvitationClosed()
    record(actor=actor, action="guardian.invitation_cancelled", obj=child, before={"invitation_id": invitation.id})
    db.session.delete(invitation)
    db.session.flush()


def pending_invitations_for(actor: User) -> list[GuardianInvitation]:
    """Open invitations addressed to the actor's mobile number, oldest first, with their children."""
    if not getattr(actor, "phone", None):
        return []
    return list(db.session.scalars(
        sa.select(GuardianInvitation)
        .where(GuardianInvitation.phone == actor.phone, _open_invitations_clause())
        .options(joinedload(GuardianInvitation.child))
        .order_by(GuardianInvitation.created_at, GuardianInvitation.id)))
