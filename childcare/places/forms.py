"""Forms for managing places: they check the shape of input; places.services decides.

Several of these forms share one page, so every field has an id of its own.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields import enum_choices, enum_coerce
from wtforms.validators import DataRequired, InputRequired, Optional

from childcare.accounts.forms import REQUIRED
from childcare.forms import AppForm
from childcare.places.models import DistrictKind, StreetKind


def optional_int(value: object) -> int | None:
    """Coerce a select's value to an id; the empty placeholder option gives None."""
    if value is None or value == "":
        return None
    return int(value)  # type: ignore[call-overload]


def _district_kinds() -> list:
    return enum_choices(DistrictKind, label=lambda kind: kind.title)


def _street_kinds() -> list:
    return enum_choices(StreetKind, label=lambda kind: kind.title)


class DistrictForm(AppForm):
    name = StringField(_l("Name"), id="district-name", validators=[DataRequired(REQUIRED)],
                       description=_l("For example 盐湖区 or 永济市."), render_kw={"maxlength": 60})
    kind = SelectField(_l("Kind"), id="district-kind", choices=_district_kinds, coerce=enum_coerce(DistrictKind),
                       default=DistrictKind.DISTRICT)
    city = StringField(_l("City"), id="district-city", description=_l("For example 运城市."),
                       render_kw={"maxlength": 60})


class StreetForm(AppForm):
    name = StringField(_l("Name"), id="street-name", validators=[DataRequired(REQUIRED)],
                       description=_l("For example 姚孟街道 or 龙泉镇."), render_kw={"maxlength": 60})
    kind = SelectField(_l("Kind"), id="street-kind", choices=_street_kinds, coerce=enum_coerce(StreetKind),
                       default=StreetKind.STREET)


class NewStreetForm(StreetForm):
    # The view lists the choices and looks the district up: an unknown id answers 404.
    district_id = SelectField(_l("District or county"), id="street-district", coerce=optional_int,
                              validate_choice=False, validators=[InputRequired(REQUIRED)])


class CommunityForm(AppForm):
    name = StringField(_l("Name"), id="community-name", validators=[DataRequired(REQUIRED)],
                       description=_l("For example 杏北社区."), render_kw={"maxlength": 60})
    address = StringField(_l("Address"), id="community-address", render_kw={"maxlength": 200})
    contact_phone = StringField(_l("Telephone for parents"), id="community-phone",
                                render_kw={"maxlength": 30, "inputmode": "tel", "autocomplete": "off"})
    description = TextAreaField(_l("About the community"), id="community-description",
                                description=_l("Shown on the community's public page."), render_kw={"rows": 4})


class NewCommunityForm(CommunityForm):
    # The view lists the choices and looks the street up: an unknown id answers 404.
    street_id = SelectField(_l("Street or town"), id="community-street", coerce=optional_int,
                            validate_choice=False, validators=[InputRequired(REQUIRED)])


class VenueForm(AppForm):
    name = StringField(_l("Name"), id="venue-name", validators=[DataRequired(REQUIRED)],
                       description=_l("For example 党群服务中心二楼活动室."), render_kw={"maxlength": 80})
    address = StringField(_l("Address"), id="venue-address", description=_l("Leave empty if it is the community's."),
                          render_kw={"maxlength": 200})
    capacity = IntegerField(_l("Capacity (children)"), id="venue-capacity", validators=[Optional()],
                            description=_l("How many children the room holds safely, if known."),
                            render_kw={"min": 1, "inputmode": "numeric"})


class NewVenueForm(VenueForm):
    # Not limited to the listed choices: the service decides whether the actor manages the community.
    community_id = SelectField(_l("Community"), id="venue-community", coerce=optional_int, validate_choice=False,
                               validators=[InputRequired(REQUIRED)])
