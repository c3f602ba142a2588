"""Attendance forms: they check the shape of input; attendance.services decides.

A roster has one row per child, so the templates render these forms' inputs by hand with ids of their own;
the forms here read and validate what comes back.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from childcare.attendance.models import AttendanceState
from childcare.forms import AppForm, parse_id


class ActionForm(AppForm):
    """A button that records something (check in, absent, the rest absent); only its CSRF token."""


class CheckOutForm(AppForm):
    """Who takes the child: 'guardian:<id>', 'person:<id>', 'alone' or 'override' (coordinators)."""

    pickup = StringField(_l("Who takes the child home?"),
                         validators=[InputRequired(_l("Choose who takes the child home.")), Length(max=40)])
    pickup_name = StringField(_l("Name of the person"), validators=[Optional(), Length(max=60)])
    override_reason = StringField(_l("Reason"), validators=[Optional(), Length(max=300)])

    def parsed(self) -> tuple[str | None, int | None, int | None]:
        """(pickup kind, guardian id, pickup person id) from the chosen radio value."""
        value = (self.pickup.data or "").strip()
        kind, _, number = value.partition(":")
        ident = parse_id(number)
        if kind == "guardian":
            return "guardian", ident, None
        if kind == "person":
            return "pickup_person", None, ident
        if kind in ("alone", "override"):
            return kind, None, None
        return None, None, None


class CorrectForm(AppForm):
    """A coordinator's correction: the right state and why."""

    new_state = SelectField(_l("Correct state"),
                            choices=[SelectChoice(value=s.value, label=s.value) for s in AttendanceState],
                            validators=[InputRequired()])
    reason = StringField(_l("Reason for the correction"),
                         validators=[InputRequired(_l("Give a reason for the correction.")), Length(max=300)])
