"""Places: administrators set up districts, streets and communities; coordinators add their venues."""

from __future__ import annotations

import enum
import re
from typing import Any, TypeVar

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from childcare.accounts.models import User
from childcare.accounts.permissions import ensure_admin, ensure_manages_community
from childcare.audit.services import record
from childcare.db import db
from childcare.errors import DomainError, InvalidInput
from childcare.places.models import Community, District, DistrictKind, Street, StreetKind, Venue

E = TypeVar("E", bound=enum.Enum)

#: column widths, kept in step with the models
DISTRICT_NAME_MAX = 60
STREET_NAME_MAX = 60
COMMUNITY_NAME_MAX = 60
VENUE_NAME_MAX = 80
CITY_MAX = 60
ADDRESS_MAX = 200
PHONE_MAX = 30
DESCRIPTION_MAX = 2000
#: a room for a community class; anything larger is a typing slip
VENUE_CAPACITY_MAX = 500

_PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-()]*$")


class InvalidPlace(InvalidInput):
    """A place's details are blank, too long or malformed."""

    code = "invalid_place"


class PlaceNameTaken(DomainError):
    """Another place at the same level already has this name."""

    status = 409
    code = "name_taken"
    default_message = _l("This name is already in use here. Please choose another.")


# ---- input checks --------------------------------------------------------------------------------------------


def _name(value: str | None, *, limit: int, field: str = "name") -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidPlace(_l("Please enter a name."), field=field)
    if len(text) > limit:
        raise InvalidPlace(_l("The name may have at most %(n)s characters."), field=field, n=limit)
    return text


def _text(value: str | None, *, limit: int, field: str) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidPlace(_l("This may have at most %(n)s characters."), field=field, n=limit)
    return text


def _phone(value: str | None) -> str:
    text = _text(value, limit=PHONE_MAX, field="contact_phone")
    if text and not _PHONE_RE.match(text):
        raise InvalidPlace(_l("Please enter a telephone number with digits only, e.g. 0359-2123456."),
                           field="contact_phone")
    return text


def _kind(enum_cls: type[E], value: E | str | None, default: E) -> E:
    if value is None or value == "":
        return default
    try:
        return enum_cls(value)
    except ValueError:
        raise InvalidPlace(_l("Please choose one of the listed kinds."), field="kind") from None


def _capacity(value: int | None) -> int | None:
    if value is None:
        return None
    if not 1 <= value <= VENUE_CAPACITY_MAX:
        raise InvalidPlace(_l("The capacity must be between 1 and %(max)s children."), field="capacity",
                           max=VENUE_CAPACITY_MAX)
    return value


# ---- writing ---------------------------------------------------------------------------------------------------


def _add_unique(obj: Any, taken: DomainError) -> None:
    """Add and flush inside a SAVEPOINT: a unique index that refuses the row leaves the transaction usable."""
    try:
        with db.session.begin_nested():
            db.session.add(obj)
    except sa.exc.IntegrityError:
        # Checking first and inserting later would race; the unique constraint decides.
        raise taken from None


def _change_unique(obj: Any, changes: dict[str, Any], taken: DomainError) -> tuple[dict, dict]:
    """Apply the changes that differ inside a SAVEPOINT; answer (before, after) of what changed."""
    before = {k: getattr(obj, k) for k, v in changes.items() if getattr(obj, k) != v}
    after = {k: changes[k] for k in before}
    if not after:
        return before, after
    try:
        with db.session.begin_nested():
            for key, value in after.items():
                setattr(obj, key, value)
    except sa.exc.IntegrityError:
        raise taken from None
    return before, after


def _district_taken() -> PlaceNameTaken:
    return PlaceNameTaken(_l("A district or county with this name already exists."), field="name")


def _street_taken() -> PlaceNameTaken:
    return PlaceNameTaken(_l("This district already has a street or town with this name."), field="name")


def _community_taken() -> PlaceNameTaken:
    return PlaceNameTaken(_l("This street already has a community with this name."), field="name")


def _venue_taken() -> PlaceNameTaken:
    return PlaceNameTaken(_l("This community already has a venue with this name."), field="name")


def create_district(*, actor: User, name: str, kind: DistrictKind | str | None = None,
                    city: str | None = "") -> District:
    """Add a district, county or county-level city (administrators only)."""
    ensure_admin(actor)
    district = District(name=_name(name, limit=DISTRICT_NAME_MAX),
                        kind=_kind(DistrictKind, kind, DistrictKind.DISTRICT),
                        city=_text(city, limit=CITY_MAX, field="city"))
    _add_unique(district, _district_taken())
    record(actor=actor, action="places.district_created", obj=district,
           after={"name": district.name, "kind": district.kind.value, "city": district.city})
    return district


def update_district(*, actor: User, district: District, name: str, kind: DistrictKind | str | None = None,
                    city: str | None = "") -> District:
    """Rename a district or change its kind or city (administrators only)."""
    ensure_admin(actor)
    changes = {"name": _name(name, limit=DISTRICT_NAME_MAX),
               "kind": _kind(DistrictKind, kind, district.kind),
               "city": _text(city, limit=CITY_MAX, field="city")}
    before, after = _change_unique(district, changes, _district_taken())
    if after:
        record(actor=actor, action="places.district_updated", obj=district, before=before, after=after)
    return district


def create_street(*, actor: User, district: District, name: str, kind: StreetKind | str | None = None) -> Street:
    """Add a street (sub-district) or town to a district (administrators only)."""
    ensure_admin(actor)
    street = Street(district_id=district.id, name=_name(name, limit=STREET_NAME_MAX),
                    kind=_kind(StreetKind, kind, StreetKind.STREET))
    _add_unique(street, _street_taken())
    record(actor=actor, action="places.street_created", obj=street,
           after={"district_id": district.id, "name": street.name, "kind": street.kind.value})
    return street


def update_street(*, actor: User, street: Street, name: str, kind: StreetKind | str | None = None) -> Street:
    """Rename a street or town, or change its kind (administrators only)."""
    ensure_admin(actor)
    changes = {"name": _name(name, limit=STREET_NAME_MAX), "kind": _kind(StreetKind, kind, street.kind)}
    before, after = _change_unique(street, changes, _street_taken())
    if after:
        record(actor=actor, action="places.street_updated", obj=street, before=before, after=after)
    return street


def create_community(*, actor: User, street: Street, name: str, address: str | None = "",
                     description: str | None = "", contact_phone: str | None = "") -> Community:
    """Add a residential community to a street or town (administrators only)."""
    ensure_admin(actor)
    community = Community(street_id=street.id, name=_name(name, limit=COMMUNITY_NAME_MAX),
                          address=_text(address, limit=ADDRESS_MAX, field="address"),
                          description=_text(description, limit=DESCRIPTION_MAX, field="description"),
                          contact_phone=_phone(contact_phone))
    _add_unique(community, _community_taken())
    record(actor=actor, action="places.community_created", obj=community, community_id=community.id,
           after={"street_id": street.id, "name": community.name, "address": community.address,
                  "contact_phone": community.contact_phone})
    return community


def update_community(*, actor: User, community: Community, name: str, address: str | None = "",
                     description: str | None = "", contact_phone: str | None = "") -> Community:
    """Rename a community or change its public details (administrators only)."""
    ensure_admin(actor)
    changes = {"name": _name(name, limit=COMMUNITY_NAME_MAX),
               "address": _text(address, limit=ADDRESS_MAX, field="address"),
               "description": _text(description, limit=DESCRIPTION_MAX, field="description"),
               "contact_phone": _phone(contact_phone)}
    before, after = _change_unique(community, changes, _community_taken())
    if after:
        record(actor=actor, action="places.community_updated", obj=community, community_id=community.id,
               before=before, after=after)
    return community


def create_venue(*, actor: User, community: Community, name: str, address: str | None = "",
                 capacity: int | None = None) -> Venue:
    """Add a room to a community (its coordinators or an administrator)."""
    # Another community's coordinator is told "not found", as if the community were not there.
    ensure_manages_community(actor, community.id, hide=True)
    venue = Venue(community_id=community.id, name=_name(name, limit=VENUE_NAME_MAX),
                  address=_text(address, limit=ADDRESS_MAX, field="address"), capacity=_capacity(capacity))
    _add_unique(venue, _venue_taken())
    record(actor=actor, action="places.venue_created", obj=venue,
           after={"name": venue.name, "address": venue.address, "capacity": venue.capacity})
    return venue


def update_venue(*, actor: User, venue: Venue, name: str, address: str | None = "",
                 capacity: int | None = None) -> Venue:
    """Rename a venue or change its address or capacity (its community's coordinators or an administrator)."""
    ensure_manages_community(actor, venue.community_id, hide=True)
    changes = {"name": _name(name, limit=VENUE_NAME_MAX),
               "address": _text(address, limit=ADDRESS_MAX, field="address"),
               "capacity": _capacity(capacity)}
    before, after = _change_unique(venue, changes, _venue_taken())
    if after:
        record(actor=actor, action="places.venue_updated", obj=venue, before=before, after=after)
    return venue
