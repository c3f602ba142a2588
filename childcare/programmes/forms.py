"""Coordinator forms for programmes, sessions and the school calendar: they check the shape; services decide."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields import enum_choices, enum_coerce
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from childcare.accounts.forms import REQUIRED
from childcare.forms import AppForm, CheckboxesField
from childcare.places.forms import optional_int
from childcare.programmes.models import Allocation, EnrolmentMode, ProgrammeKind, Promotion

WEEKDAY_NAMES = {1: _l("Monday"), 2: _l("Tuesday"), 3: _l("Wednesday"), 4: _l("Thursday"), 5: _l("Friday"),
                 6: _l("Saturday"), 7: _l("Sunday")}
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


def yuan_to_cents(value: Decimal | None) -> int:
    """A fee in yuan as whole fen (0 when empty)."""
    return int((value or Decimal(0)) * 100)


class DateListField(StringField):
    """Dates written as "2026-02-16, 2026-02-17" (commas, spaces or new lines between them)."""

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return ", ".join(d.isoformat() for d in self.data or [])

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = []
        if not valuelist:
            return
        text = valuelist[0].replace("，", ",").replace("、", ",").replace("\n", ",").replace(" ", ",")
        found = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            try:
                found.append(date.fromisoformat(part))
            except ValueError:
                raise ValueError(_l("Please write dates as 2026-02-16, separated by commas.")) from None
        self.data = sorted(set(found))


def _kinds() -> list:
    return enum_choices(ProgrammeKind, label=lambda kind: kind.title)


def _modes() -> list:
    return enum_choices(EnrolmentMode, label=lambda mode: mode.title)


def _allocations() -> list:
    return enum_choices(Allocation, label=lambda allocation: allocation.title)


def _promotions() -> list:
    return enum_choices(Promotion, label=lambda promotion: promotion.title)


def _weekdays() -> list:
    return [SelectChoice(value=number, label=name) for number, name in WEEKDAY_NAMES.items()]


class ProgrammeForm(AppForm):
    """Everything about a programme that may change after it was created (capacity has its own screen)."""

    kind = SelectField(_l("Kind"), choices=_kinds, coerce=enum_coerce(ProgrammeKind),
                       default=ProgrammeKind.AFTER_SCHOOL)
    title = StringField(_l("Title"), validators=[DataRequired(REQUIRED)], render_kw={"maxlength": 120},
                        description=_l("For example 杏北社区四点半课堂（春季） or 七色花成长营地（寒假）."))
    description = TextAreaField(_l("Description"), render_kw={"rows": 4},
                                description=_l("What the children do, and what parents should know."))
    themes = StringField(_l("Themes"), render_kw={"maxlength": 400},
                         description=_l("Separated by commas, e.g. 阅读分享, 安全教育."))
    # The view lists the venues of the actor's communities; the service checks the one chosen.
    venue_id = SelectField(_l("Venue"), coerce=optional_int, validate_choice=False)
    mode = SelectField(_l("Enrolment"), choices=_modes, coerce=enum_coerce(EnrolmentMode),
                       default=EnrolmentMode.WHOLE)
    allocation = SelectField(_l("Allocation of seats"), choices=_allocations, coerce=enum_coerce(Allocation),
                             default=Allocation.FIRST_COME)
    promotion = SelectField(_l("When a seat frees up"), choices=_promotions, coerce=enum_coerce(Promotion),
                            default=Promotion.AUTO)
    offer_hours = IntegerField(_l("Hours a family has to accept an offered seat"), default=24,
                               validators=[InputRequired(REQUIRED), NumberRange(min=1)],
                               render_kw={"min": 1, "inputmode": "numeric"})
    needs_approval = BooleanField(_l("A coordinator approves each enrolment"))
    published = BooleanField(_l("Show to parents"), default=True)
    children_per_adult = IntegerField(_l("Children per volunteer"), default=10,
                                      validators=[Optional(), NumberRange(min=1, max=50)],
                                      description=_l("For example 10 for one adult to every ten children."),
                                      render_kw={"min": 1, "max": 50, "inputmode": "numeric"})
    min_volunteers = IntegerField(_l("Volunteers in every session, at least"), default=1,
                                  validators=[Optional(), NumberRange(min=0, max=20)],
                                  render_kw={"min": 0, "max": 20, "inputmode": "numeric"})
    claim_cutoff_hours = IntegerField(_l("Volunteers may claim or give up a post until this many hours before"),
                                      default=2, validators=[Optional(), NumberRange(min=0, max=168)],
                                      render_kw={"min": 0, "max": 168, "inputmode": "numeric"})
    pause_enrolment_when_understaffed = BooleanField(_l("Stop taking new enrolments while volunteers are short"))
    late_after_minutes = IntegerField(_l("Minutes after the start before a child counts as late"), default=10,
                                      validators=[Optional(), NumberRange(min=0, max=120)],
                                      render_kw={"min": 0, "max": 120, "inputmode": "numeric"})
    absence_alert_minutes = IntegerField(_l("Minutes after the start before guardians of missing children are "
                                            "alerted"), default=15,
                                         validators=[Optional(), NumberRange(min=1, max=240)],
                                         render_kw={"min": 1, "max": 240, "inputmode": "numeric"})
    sweep_after_minutes = IntegerField(_l("Minutes after the end before children not checked out raise an alert"),
                                       default=20, validators=[Optional(), NumberRange(min=1, max=240)],
                                       render_kw={"min": 1, "max": 240, "inputmode": "numeric"})
    starts_on = DateField(_l("First day"), validators=[InputRequired(REQUIRED)])
    ends_on = DateField(_l("Last day"), validators=[InputRequired(REQUIRED)])
    weekdays = CheckboxesField(_l("Weekdays"), choices=_weekdays, coerce=int, default=[1, 2, 3, 4, 5],
                               invalid_choice_message=_l("Please choose one of the listed options."),
                               description=_l("After-school classes meet on school days only: public holidays "
                                              "are skipped, and a class on every weekday also meets on official "
                                              "make-up working days."))
    start_time = TimeField(_l("Starts at"), validators=[InputRequired(REQUIRED)])
    end_time = TimeField(_l("Ends at"), validators=[InputRequired(REQUIRED)])
    excluded_dates = DateListField(_l("Dates without a session"),
                                   description=_l("For example 2026-02-16, 2026-02-17."))
    min_age = IntegerField(_l("Youngest age"), validators=[Optional()], render_kw={"min": 0, "max": 18,
                                                                                     "inputmode": "numeric"})
    max_age = IntegerField(_l("Oldest age"), validators=[Optional()], render_kw={"min": 0, "max": 18,
                                                                                   "inputmode": "numeric"})
    min_grade = IntegerField(_l("Lowest grade"), validators=[Optional()],
                             description=_l("0 for kindergarten, 1–6 primary school, 7–9 junior middle school."),
                             render_kw={"min": 0, "max": 9, "inputmode": "numeric"})
    max_grade = IntegerField(_l("Highest grade"), validators=[Optional()],
                             render_kw={"min": 0, "max": 9, "inputmode": "numeric"})
    fee_yuan = DecimalField(_l("Fee (yuan)"), places=2, validators=[Optional(), NumberRange(min=0)],
                            description=_l("0 or empty when the programme is free."),
                            render_kw={"min": 0, "step": "0.01", "inputmode": "decimal"})
    registration_opens_at = DateTimeLocalField(_l("Registration opens"), format=LOCAL_MINUTE,
                                               validators=[Optional()])
    registration_closes_at = DateTimeLocalField(_l("Registration closes"), format=LOCAL_MINUTE,
                                                validators=[Optional()])
    priority_groups = TextAreaField(_l("Priority groups"), render_kw={"rows": 3},
                                    description=_l("One group per line, the first goes first on the waiting list, "
                                                   "e.g. 本社区双职工家庭."))

    # The view lists the earlier programmes the actor runs; the service checks the one chosen.
    previous_programme_id = SelectField(_l("Previous term"), coerce=optional_int, validate_choice=False,
                                        validators=[Optional()],
                                        description=_l("The same class in the term before, if there was one."))
    previous_unsuccessful_first = BooleanField(_l("In the draw, children who got no seat in the previous term "
                                                  "go first"))

    def priority_group_names(self) -> list[str]:
        return [line.strip() for line in (self.priority_groups.data or "").splitlines() if line.strip()]


class NewProgrammeForm(ProgrammeForm):
    """Creating a programme also chooses its community and its capacity."""

    # Not limited to the listed choices: the service decides whether the actor runs the community.
    community_id = SelectField(_l("Community"), coerce=optional_int, validate_choice=False,
                               validators=[InputRequired(REQUIRED)])
    capacity = IntegerField(_l("Seats"), validators=[InputRequired(REQUIRED)],
                            description=_l("Whole programme: children in all sessions. Day booking: children in "
                                           "each session."),
                            render_kw={"min": 0, "inputmode": "numeric"})


class SessionForm(AppForm):
    """One session: its time, its room, a note, or cancelling it."""

    starts_at_local = DateTimeLocalField(_l("Starts"), format=LOCAL_MINUTE, validators=[InputRequired(REQUIRED)])
    ends_at_local = DateTimeLocalField(_l("Ends"), format=LOCAL_MINUTE, validators=[InputRequired(REQUIRED)])
    venue_id = SelectField(_l("Venue"), coerce=optional_int, validate_choice=False)
    note = StringField(_l("Note for families"), render_kw={"maxlength": 200})
    cancelled = BooleanField(_l("Cancelled"))


def _school_day(value: object) -> bool:
    """'1' (a make-up working day) or '0' (a public holiday); any other value is not one of the choices."""
    if isinstance(value, bool):
        return value
    if str(value) in ("1", "True", "true"):
        return True
    if str(value) in ("0", "False", "false"):
        return False
    raise ValueError(value)


class CalendarDayForm(AppForm):
    """A public holiday or make-up working day the official calendar does not know (yet)."""

    on_date = DateField(_l("Date"), validators=[InputRequired(REQUIRED)])
    is_school_day = SelectField(_l("This day is"), coerce=_school_day,
                                choices=[SelectChoice(value="0", label=_l("A public holiday: no school")),
                                         SelectChoice(value="1", label=_l("A make-up working day: school as usual"))],
                                default="0")
    name = StringField(_l("Name"), render_kw={"maxlength": 80}, description=_l("For example 春节 or 国庆节调休."))
