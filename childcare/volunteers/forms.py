"""Volunteer forms: they check the shape of input; volunteers.services decides."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from childcare.accounts.forms import REQUIRED
from childcare.forms import AppForm
from childcare.volunteers.models import VolunteerKind


class ApplyForm(AppForm):
    """Offer to volunteer in a community."""

    community_id = SelectField(_l("Community"), coerce=int, validators=[InputRequired(REQUIRED)])
    kind = SelectField(_l("I am"), validators=[DataRequired(REQUIRED)])
    organisation = StringField(_l("School or employer"), validators=[Optional(), Length(max=120)],
                               description=_l("Students: your university. Others: your work unit, or the one you "
                                              "retired from."), render_kw={"maxlength": 120})
    skills = TextAreaField(_l("What you can do"), validators=[Optional(), Length(max=500)],
                           description=_l("For example: homework help, reading, calligraphy, first aid."),
                           render_kw={"maxlength": 500, "rows": 3})
    availability = TextAreaField(_l("When you are free"), validators=[Optional(), Length(max=500)],
                                 description=_l("For example: weekday afternoons, the summer holidays."),
                                 render_kw={"maxlength": 500, "rows": 3})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Rebuilt per request so that the titles follow the reader's language.
        self.kind.choices = [SelectChoice(value=k.value, label=k.title) for k in VolunteerKind]


class ConfirmForm(AppForm):
    """A button that changes something (claim, release, check in); the form carries only its CSRF token."""


class DecideForm(AppForm):
    """Approve or decline an application, with a note the applicant sees."""

    decision = SelectField(_l("Decision"), choices=[SelectChoice(value="approve", label=_l("Approve")),
                                                    SelectChoice(value="decline", label=_l("Decline"))],
                           validators=[DataRequired(REQUIRED)])
    note = StringField(_l("Note to the applicant (optional)"), validators=[Optional(), Length(max=500)],
                       render_kw={"maxlength": 500})


class AssignForm(AppForm):
    """Give an approved volunteer a post in a session."""

    volunteer_id = SelectField(_l("Volunteer"), coerce=int, validate_choice=False,
                               validators=[InputRequired(REQUIRED)])


class RemoveForm(AppForm):
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=300)],
                         description=_l("The volunteer is told this reason."), render_kw={"maxlength": 300})


class ConfirmTimesForm(AppForm):
    """The times a volunteer came and left, on the session's day."""

    arrived = TimeField(_l("Arrived"), validators=[InputRequired(REQUIRED)])
    left = TimeField(_l("Left"), validators=[InputRequired(REQUIRED)])


class CorrectionForm(AppForm):
    """Add or take away minutes, with the reason."""

    community_id = SelectField(_l("Community"), coerce=int, validate_choice=False,
                               validators=[InputRequired(REQUIRED)])
    minutes = IntegerField(_l("Minutes"), validators=[InputRequired(REQUIRED), NumberRange(min=-6000, max=6000)],
                           description=_l("A minus sign takes minutes away, e.g. -30."),
                           render_kw={"inputmode": "numeric"})
    reason = StringField(_l("Reason"), validators=[DataRequired(REQUIRED), Length(max=300)],
                         render_kw={"maxlength": 300})
    served_on = DateField(_l("Date"), validators=[Optional()])


class CertificateForm(AppForm):
    """The date range of a certificate; read from the query string, so no CSRF token."""

    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
