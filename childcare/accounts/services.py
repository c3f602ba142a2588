"""Accounts: registration, login, passwords, roles and language."""

from __future__ import annotations

import re

import phonenumbers
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

from childcare.accounts.models import COMMUNITY_ROLES, Role, RoleGrant, User
from childcare.audit.services import record
from childcare.db import db, utcnow
from childcare.errors import DomainError, InvalidInput, NotFound
from childcare.notifications.services import notify
from childcare.places.models import Community

MIN_PASSWORD_LENGTH = 8
COMMON_PASSWORDS = frozenset({
    "12345678", "123456789", "1234567890", "password", "password1", "qwertyui", "11111111", "88888888",
    "abc12345", "abcd1234", "a1234567", "iloveyou", "woaini520", "5201314520", "00000000", "admin123",
    "qwerty123", "1qaz2wsx", "aa123456", "password123",
})

# A hash to compare against when the phone is unknown, so that both answers take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password-0")


class InvalidPhone(InvalidInput):
    code = "invalid_phone"
    default_message = _l("Please enter a valid mainland China mobile number (11 digits, starting with 1).")


class WeakPassword(InvalidInput):
    code = "weak_password"


class PhoneTaken(DomainError):
    code = "phone_taken"
    default_message = _l("This mobile number is already registered. Please log in instead.")


class BadCredentials(DomainError):
    status = 401
    code = "bad_credentials"
    default_message = _l("The mobile number or password is not correct.")


def normalise_phone(raw: str | None) -> str:
    """A mainland mobile number in E.164 form (+86…), or InvalidPhone."""
    text = re.sub(r"[\s\-()]", "", raw or "")
    if not text:
        raise InvalidPhone(_l("Please enter your mobile number."), field="phone")
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidPhone(field="phone") from None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        raise InvalidPhone(field="phone")
    if phonenumbers.number_type(number) not in (phonenumbers.PhoneNumberType.MOBILE,
                                                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidPhone(field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_phone(e164: str) -> str:
    """+8613800138000 → 13800138000, as people write it."""
    return e164[3:] if e164.startswith("+86") else e164


def masked_phone(e164: str) -> str:
    """138****8000: enough to recognise, not enough to misuse."""
    digits = national_phone(e164)
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 11 else digits


def check_password_strength(password: str, *, phone: str | None = None, field: str = "password") -> None:
    """Refuse passwords that are short, all one kind of character, common, or the phone number."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise WeakPassword(_l("The password must have at least %(n)s characters."), field=field,
                           n=MIN_PASSWORD_LENGTH)
    if len(password) > 128:
        raise WeakPassword(_l("The password may have at most 128 characters."), field=field)
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        raise WeakPassword(_l("The password must contain both letters and digits."), field=field)
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        raise WeakPassword(_l("This password is too easy to guess. Please choose another."), field=field)
    if phone and national_phone(phone) in password:
        raise WeakPassword(_l("The password must not contain your mobile number."), field=field)


def find_by_phone(phone: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.phone == phone))


def register(*, phone: str, password: str, name: str, locale: str | None = None,
             roles: tuple[Role, ...] = (Role.GUARDIAN,)) -> User:
    """Create an account (a guardian unless told otherwise); the phone must be new."""
    phone = normalise_phone(phone)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_l("Please enter your name."), field="name")
    if len(name) > 80:
        raise InvalidInput(_l("The name may have at most 80 characters."), field="name")
    check_password_strength(password, phone=phone)
    if find_by_phone(phone) is not None:
        raise PhoneTaken(field="phone")
    user = User(phone=phone, name=name, password_hash=generate_password_hash(password), locale=locale)
    user.grants = [RoleGrant(role=role) for role in roles]
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        # Two registrations of one number at once: the unique index decides.
        raise PhoneTaken(field="phone") from None
    record(actor=user, action="account.registered", obj=user, after={"phone": masked_phone(phone), "name": name})
    notify(user, "account.welcome", name=name)
    return user


def authenticate(*, phone: str, password: str) -> User:
    """The account for these credentials, or BadCredentials (the same answer for unknown phones)."""
    try:
        phone = normalise_phone(phone)
    except InvalidPhone:
        check_password_hash(_DUMMY_HASH, password or "")
        raise BadCredentials() from None
    user = find_by_phone(phone)
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        raise BadCredentials()
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        raise BadCredentials()
    user.last_login_at = utcnow()
    return user


def change_password(*, actor: User, current_password: str, new_password: str) -> User:
    """Change the actor's own password; other sessions of the account end."""
    if not check_password_hash(actor.password_hash, current_password or ""):
        raise InvalidInput(_l("The current password is not correct."), field="current_password",
                           code="bad_credentials")
    check_password_strength(new_password, phone=actor.phone, field="new_password")
    actor.password_hash = generate_password_hash(new_password)
    actor.session_version += 1
    record(actor=actor, action="account.password_changed", obj=actor)
    notify(actor, "account.password_changed")
    return actor


def set_locale(*, actor: User, locale: str) -> User:
    """Remember the person's language."""
    actor.locale = locale
    return actor


def grant_role(*, actor: User | None, user: User, role: Role, community_id: int | None = None) -> RoleGrant:
    """Give a role (idempotent); a coordinator's grant must name a community."""
    from childcare.accounts.permissions import ensure_admin

    if actor is not None:
        ensure_admin(actor)
    if role in COMMUNITY_ROLES and community_id is None:
        raise InvalidInput(_l("A coordinator must be assigned to a community."), field="community_id")
    if role not in COMMUNITY_ROLES:
        community_id = None
    elif db.session.get(Community, community_id) is None:
        # Checked here so that a typo gives a message, not a foreign-key error at flush.
        raise InvalidInput(_l("No such community."), field="community_id", code="not_found")
    for grant in user.grants:
        if grant.role == role and grant.community_id == community_id:
            return grant
    grant = RoleGrant(role=role, community_id=community_id)
    user.grants.append(grant)
    db.session.flush()
    record(actor=actor, action="account.role_granted", obj=user, community_id=community_id,
           after={"role": role.value, "community_id": community_id})
    return grant


def revoke_role(*, actor: User, user: User, role: Role, community_id: int | None = None) -> None:
    """Take a role away."""
    from childcare.accounts.permissions import ensure_admin

    ensure_admin(actor)
    if role == Role.ADMIN and db.session.scalar(
            sa.select(sa.func.count(RoleGrant.id)).where(RoleGrant.role == Role.ADMIN)) <= 1:
        # Nobody could manage places, people or roles any more.
        raise DomainError(_l("The last administrator cannot lose the role. Make someone else an administrator "
                             "first."), code="last_admin")
    for grant in list(user.grants):
        if grant.role == role and grant.community_id == community_id:
            user.grants.remove(grant)
            record(actor=actor, action="account.role_revoked", obj=user, community_id=community_id,
                   before={"role": role.value, "community_id": community_id})
            return
    raise NotFound()


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader: the id must carry the current session version."""
    try:
        user_id, version = (int(part) for part in session_id.split(":", 1))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version or not user.active:
        return None
    return user
