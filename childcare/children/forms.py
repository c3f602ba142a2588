"""Forms for children, pickup persons and invitations: they check the shape of input; children.services decides.

The child page carries several forms, so their fields have ids of their own.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from childcare.accounts.forms import REQUIRED
from childcare.children.models import Gender
from childcare.forms import AppForm

#: how grades read (0 = kindergarten, 1–6 primary, 7–9 junior middle)
GRADE_TITLES = {
    0: _l("Kindergarten"),
    1: _l("Grade 1"),
    2: _l("Grade 2"),
    3: _l("Grade 3"),
    4: _l("Grade 4"),
    5: _l("Grade 5"),
    6: _l("Grade 6"),
    7: _l("Junior middle grade 1"),
    8: _l("Junior middle grade 2"),
    9: _l("Junior middle grade 3"),
}

_TEL = {"inputmode": "tel", "autocomplete": "off", "maxlength": 30}


def grade_title(grade: int | None) -> str:
    """A grade as people say it, or an empty string."""
    return "" if grade is None else str(GRADE_TITLES.get(grade, grade))


def _gender_choices() -> list[SelectChoice]:
    return [SelectChoice("", str(_l("Not given")))] + [SelectChoice(g.value, g.title) for g in Gender]


def _grade_choices() -> list[SelectChoice]:
    return [SelectChoice("", str(_l("Not given")))] + [SelectChoice(str(n), str(title))
                                                        for n, title in GRADE_TITLES.items()]


class ChildForm(AppForm):
    name = StringField(_l("Child's name"), validators=[DataRequired(REQUIRED), Length(max=60)],
                       render_kw={"maxlength": 60, "autocomplete": "off"})
    gender = SelectField(_l("Boy or girl"), choices=_gender_choices)
    birth_date = DateField(_l("Date of birth"), validators=[Optional()])
    grade = SelectField(_l("Grade"), choices=_grade_choices)
    school = StringField(_l("School"), validators=[Length(max=120)], render_kw={"maxlength": 120})
    allergies = TextAreaField(_l("Allergies"), validators=[Length(max=500)],
                              description=_l("For example peanuts or penicillin. Leave empty if none."),
                              render_kw={"rows": 2})
    medical_notes = TextAreaField(_l("Health notes"), validators=[Length(max=1000)],
                                  description=_l("Illnesses or medicines the staff should know about."),
                                  render_kw={"rows": 3})
    special_needs = TextAreaField(_l("Special needs"), validators=[Length(max=1000)],
                                  description=_l("Anything that helps the staff look after your child well."),
                                  render_kw={"rows": 3})
    emergency_contact_name = StringField(_l("Emergency contact"), validators=[Length(max=60)],
                                         description=_l("Someone to call when you cannot be reached."),
                                         render_kw={"maxlength": 60})
    emergency_contact_phone = StringField(_l("Emergency contact's mobile number"), render_kw=_TEL)
    photo_consent = BooleanField(_l("Photos of my child may appear in daily updates"))
    may_go_home_alone = BooleanField(_l("My child may go home alone without being picked up"))

    def child_values(self) -> dict:
        """The child's fields as the services take them."""
        return {"name": self.name.data, "gender": self.gender.data or None, "birth_date": self.birth_date.data,
                "school": self.school.data, "grade": self.grade.data or None, "allergies": self.allergies.data,
                "medical_notes": self.medical_notes.data, "special_needs": self.special_needs.data,
                "photo_consent": self.photo_consent.data, "may_go_home_alone": self.may_go_home_alone.data,
                "emergency_contact_name": self.emergency_contact_name.data,
                "emergency_contact_phone": self.emergency_contact_phone.data}


class AddChildForm(ChildForm):
    relation = StringField(_l("You are the child's"), validators=[Length(max=30)],
                           description=_l("For example 妈妈, 爸爸 or 奶奶."), render_kw={"maxlength": 30})
    # Not required here: the service refuses without consent, and the refusal comes back on this field.
    consent = BooleanField(_l("I have read this and agree"))


class PickupPersonForm(AppForm):
    name = StringField(_l("Name"), id="pickup-name", validators=[DataRequired(REQUIRED), Length(max=60)],
                       render_kw={"maxlength": 60, "autocomplete": "off"})
    relation = StringField(_l("Relation to the child"), id="pickup-relation", validators=[Length(max=30)],
                           description=_l("For example 外婆 or 邻居."), render_kw={"maxlength": 30})
    phone = StringField(_l("Mobile number"), id="pickup-phone", render_kw=_TEL,
                        description=_l("Optional, but it helps the staff check who they are."))


class InviteForm(AppForm):
    phone = StringField(_l("Their mobile number"), id="invite-phone", validators=[DataRequired(REQUIRED)],
                        render_kw=_TEL)
    relation = StringField(_l("They are the child's"), id="invite-relation", validators=[Length(max=30)],
                           description=_l("For example 爸爸."), render_kw={"maxlength": 30})


class RemoveChildForm(AppForm):
    confirm = BooleanField(_l("Yes, remove this child and the child's information"),
                           validators=[DataRequired(_l("Please tick the box to confirm."))])
