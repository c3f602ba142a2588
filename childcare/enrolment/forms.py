"""Enrolment forms: they check the shape of input; enrolment.services decides.

Several of these forms can share one page (a cancel button per row, a leave form per session), so the views
give the row forms ids of their own through `prefix`.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from childcare.accounts.forms import REQUIRED
from childcare.forms import AppForm, CheckboxesField
from childcare.places.forms import optional_int
from childcare.programmes.services import CAPACITY_MAX


class BrowseForm(AppForm):
    """The filters of the public programme list; read from the query string, so no CSRF token."""

    class Meta:
        csrf = False

    community_id = SelectField(_l("Community"), coerce=optional_int, validate_choice=False, validators=[Optional()])
    kind = SelectField(_l("Kind"), validate_choice=False, validators=[Optional()])
    on_date = DateField(_l("Runs on"), validators=[Optional()],
                        description=_l("Only programmes that run on this day."))
    child_id = SelectField(_l("Fits my child"), coerce=optional_int, validate_choice=False, validators=[Optional()],
                           description=_l("Only programmes whose age and grade fit this child."))


class EnrolForm(AppForm):
    """Enrol one or several of my children; in day mode, in the sessions ticked."""

    child_ids = CheckboxesField(_l("Children"), coerce=int,
                                validators=[DataRequired(_l("Choose at least one child."))],
                                invalid_choice_message=_l("Please choose one of the listed options."))
    session_ids = CheckboxesField(_l("Sessions"), coerce=int, validate_choice=False)
    all_or_none = BooleanField(_l("All of them or none"),
                               description=_l("Enrol only if there is a seat for every child and session chosen; "
                                              "otherwise nobody is put on the waiting list."))
    #: offered only where the programme has priority groups; the service checks the choice
    priority_group_id = RadioField(_l("Does your family belong to one of these groups?"), coerce=optional_int,
                                   validate_choice=False, validators=[Optional()],
                                   description=_l("These families are given seats first. The community checks "
                                                  "what you choose."))


class PriorityGroupForm(AppForm):
    """A coordinator confirms or corrects the priority group a family chose."""

    priority_group_id = SelectField(_l("Priority group"), coerce=optional_int, validate_choice=False,
                                    validators=[Optional()])


class ConfirmForm(AppForm):
    """A button that changes something (accept, decline, approve); the form carries only its CSRF token."""


class CancelForm(AppForm):
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=300)],
                         render_kw={"maxlength": 300})


class RemoveForm(AppForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(REQUIRED), Length(max=300)],
                         description=_l("The family is told this reason."), render_kw={"maxlength": 300})


class CapacityForm(AppForm):
    capacity = IntegerField(_l("Seats"), validators=[InputRequired(REQUIRED), NumberRange(min=0, max=CAPACITY_MAX)],
                            render_kw={"min": 0, "inputmode": "numeric"})
    session_id = SelectField(_l("Session"), coerce=optional_int, validate_choice=False, validators=[Optional()],
                             description=_l("Leave as it is to change the seats of the whole programme."))


class DrawForm(AppForm):
    seed = StringField(_l("Seed (optional)"), validators=[Optional(), Length(max=64)],
                       description=_l("A number announced in advance makes the draw checkable by everyone; "
                                      "leave empty for a random one."), render_kw={"maxlength": 64})


class LeaveForm(AppForm):
    """Tell the class in advance that a child will miss a session (请假)."""

    child_id = IntegerField(validators=[InputRequired(REQUIRED)])
    session_id = IntegerField(validators=[InputRequired(REQUIRED)])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=300)],
                         render_kw={"maxlength": 300, "placeholder": _l("e.g. a cold, a family visit")})
