"""Request and response models of /api/v1: they validate the input's shape and generate the OpenAPI schemas.

Shape only: the services decide every rule (eligibility, capacity, phone numbers, password strength).
Bounds here are there so that nothing absurd reaches the database (huge numbers, megabyte strings).
Unknown fields are refused (`additionalProperties: false`), the same way everywhere.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Generic, TypeVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from childcare.accounts.models import Role
from childcare.children.models import Gender
from childcare.enrolment.models import EnrolmentStatus
from childcare.enrolment.services import Registration
from childcare.i18n import to_local
from childcare.places.models import StreetKind
from childcare.programmes.models import Allocation, EnrolmentMode, ProgrammeKind, Promotion

T = TypeVar("T")

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
#: an instant, answered in the configured zone with its offset (2026-07-01T08:00:00+08:00)
Instant = Annotated[datetime, PlainSerializer(lambda v: to_local(v).isoformat(), return_type=str),
                    WithJsonSchema({"type": "string", "format": "date-time",
                                    "examples": ["2026-07-01T08:00:00+08:00"]})]
InstantIn = Annotated[AwareDatetime, WithJsonSchema({"type": "string", "format": "date-time",
                                                     "description": "ISO 8601 with offset",
                                                     "examples": ["2026-07-01T08:00:00+08:00"]})]


def _clock_time_as_documented(value: time) -> time:
    # A time is parsed more freely than the document's HH:MM promises: an offset or a fraction of a second would
    # then be dropped without a word. Refuse them as the document says.
    if value.tzinfo is not None or value.microsecond:
        raise PydanticCustomError("time_parsing", "a time must be HH:MM")
    return value


ClockTime = Annotated[time, AfterValidator(_clock_time_as_documented),
                      PlainSerializer(lambda v: v.strftime("%H:%M"), return_type=str),
                      WithJsonSchema({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2})?$", "examples": ["16:30"],
                                      "description": "HH:MM, local time"})]
Day = Annotated[date, WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-07-01"]})]
Weekday = Annotated[int, Field(ge=1, le=7)]
Grade = Annotated[int, Field(ge=0, le=9)]
Age = Annotated[int, Field(ge=0, le=30)]


class In(BaseModel):
    """A request body or query: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        # PostgreSQL refuses NUL in text, and no field has a use for control characters: refuse them as input.
        if isinstance(value, str) and any(ord(c) < 32 and c not in "\t\n\r" for c in value):
            raise PydanticCustomError("string_control_characters", "control characters are not allowed")
        return value


class Out(BaseModel):
    """A response body."""

    model_config = ConfigDict(from_attributes=True)


# --- errors -------------------------------------------------------------------------------------------------------


class FieldError(Out):
    """One invalid field: `field` is a dotted path into the body or query (e.g. `pickup_persons.0.phone`)."""

    field: str | None
    code: str
    detail: str


class Problem(Out):
    """RFC 9457 problem details; `detail` is in the request's language (Accept-Language)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine code, e.g. invalid, unauthenticated, forbidden, not_found, "
                                  "registration_closed, out_of_age_range, overlap, capacity_below_taken, "
                                  "offer_expired, idempotency_mismatch, busy, rate_limited")
    errors: list[FieldError] | None = None


_MESSAGES = {
    "missing": _l("This field is required."),
    "extra_forbidden": _l("This field is not accepted here."),
    "string_type": _l("Please send text."),
    "string_too_short": _l("Please fill this in."),
    "string_too_long": _l("This is too long (at most %(max_length)s characters)."),
    "int_type": _l("Please send a whole number."),
    "int_parsing": _l("Please send a whole number."),
    "int_from_float": _l("Please send a whole number."),
    "int_parsing_size": _l("Please send a whole number."),
    "greater_than_equal": _l("This must be at least %(ge)s."),
    "less_than_equal": _l("This must be at most %(le)s."),
    "bool_type": _l("Please send true or false."),
    "bool_parsing": _l("Please send true or false."),
    "enum": _l("Please choose one of: %(expected)s."),
    "literal_error": _l("Please choose one of: %(expected)s."),
    "date_type": _l("Please send a date as YYYY-MM-DD."),
    "date_parsing": _l("Please send a date as YYYY-MM-DD."),
    "date_from_datetime_parsing": _l("Please send a date as YYYY-MM-DD."),
    "date_from_datetime_inexact": _l("Please send a date as YYYY-MM-DD."),
    "time_type": _l("Please send a time as HH:MM."),
    "time_parsing": _l("Please send a time as HH:MM."),
    "datetime_type": _l("Please send a date and time in ISO 8601 form, e.g. 2026-07-01T08:00:00+08:00."),
    "datetime_parsing": _l("Please send a date and time in ISO 8601 form, e.g. 2026-07-01T08:00:00+08:00."),
    "datetime_from_date_parsing": _l("Please send a date and time in ISO 8601 form, e.g. 2026-07-01T08:00:00+08:00."),
    "timezone_aware": _l("Please include the time zone offset, e.g. +08:00."),
    "list_type": _l("Please send a list."),
    "too_short": _l("Please send at least %(min_length)s item(s)."),
    "too_long": _l("Please send at most %(max_length)s items."),
    "string_control_characters": _l("Please remove the invisible control characters."),
    "model_type": _l("Please send a JSON object."),
    "model_attributes_type": _l("Please send a JSON object."),
    "dict_type": _l("Please send a JSON object."),
}


def validation_errors(error: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as [{field, code, detail}], the detail in the request's language."""
    out = []
    for item in error.errors(include_url=False, include_input=False):
        message = _MESSAGES.get(item["type"])
        ctx = {key: str(value) for key, value in (item.get("ctx") or {}).items()}
        if message is None:
            detail = _("This value is not valid.")
        else:
            try:
                detail = str(message) % ctx
            except (KeyError, TypeError, ValueError):
                detail = str(message)
        field = ".".join(str(part) for part in item["loc"]) or None
        out.append({"field": field, "code": item["type"], "detail": detail})
    return out


class Page(Out, Generic[T]):
    """A list answer. Every list is answered whole for now: `next` is always null (a cursor later)."""

    items: list[T]
    next: str | None = None


# --- accounts -----------------------------------------------------------------------------------------------------


class AccountCreate(In):
    """Register a guardian account with a mainland mobile number."""

    phone: str = Field(max_length=40, examples=["13800138000"])
    password: str = Field(max_length=200, description="At least 8 characters, with letters and digits")
    name: str = Field(max_length=200)


class RoleOut(Out):
    role: Role
    community_id: int | None = None


class AccountOut(Out):
    id: int
    phone: str = Field(description="E.164, e.g. +8613800138000")
    name: str
    locale: str | None = None
    roles: list[RoleOut]
    created_at: Instant


class TokenCreate(In):
    """Exchange a phone and password for a personal bearer token."""

    phone: str = Field(max_length=40)
    password: str = Field(max_length=200)
    name: str = Field(default="", max_length=80, description="A label to recognise the token by")


class TokenOut(Out):
    token: str = Field(description="Send as `Authorization: Bearer <token>`; shown only this once")


# --- places -------------------------------------------------------------------------------------------------------


class CommunityOut(Out):
    id: int
    name: str
    address: str
    street: str = Field(description="The street (街道) or town (镇)")
    street_kind: StreetKind
    district: str = Field(description="The district or county")
    city: str


# --- programmes ---------------------------------------------------------------------------------------------------


class ProgrammeQuery(In):
    community_id: Id | None = None
    kind: ProgrammeKind | None = None
    open: bool | None = Field(default=None, description="Only programmes whose registration is open now (true) "
                                                        "or not (false)")


class ProgrammeFields(In):
    """Fields a coordinator may set on a programme (all optional: PATCH sends only what changes)."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10000)
    venue_id: Id | None = None
    starts_on: Day | None = None
    ends_on: Day | None = None
    weekdays: list[Weekday] | None = Field(default=None, min_length=1, max_length=7, examples=[[1, 2, 3, 4, 5]])
    start_time: ClockTime | None = None
    end_time: ClockTime | None = None
    registration_opens_at: InstantIn | None = None
    registration_closes_at: InstantIn | None = None
    min_age: Age | None = None
    max_age: Age | None = None
    min_grade: Grade | None = None
    max_grade: Grade | None = None
    allocation: Allocation | None = None
    promotion: Promotion | None = None
    needs_approval: bool | None = None
    children_per_adult: int | None = Field(default=None, ge=1, le=50,
                                           description="Staffing: one volunteer per this many children (default 10)")
    min_volunteers: int | None = Field(default=None, ge=0, le=20, description="At least this many per session")
    claim_cutoff_hours: int | None = Field(default=None, ge=0, le=168,
                                           description="Posts are claimed or given up until this long before")
    pause_enrolment_when_understaffed: bool | None = None
    late_after_minutes: int | None = Field(default=None, ge=0, le=120, description="Grace before a check-in is late")
    absence_alert_minutes: int | None = Field(default=None, ge=1, le=240,
                                              description="After the start, missing children's guardians are alerted")
    sweep_after_minutes: int | None = Field(default=None, ge=1, le=240,
                                            description="After the end, children not checked out raise an alert")
    priority_groups: list[str] | None = Field(
        default=None, max_length=10, examples=[["本社区双职工家庭", "本社区其他家庭"]],
        description="Names of the groups given seats first, highest priority first; [] removes them. Families say "
                    "which one they belong to when they sign up (priority_group_id)")
    previous_programme_id: Id | None = Field(default=None, description="The same class in the term before (same "
                                                                     "community)")
    previous_unsuccessful_first: bool | None = Field(default=None, description="In the draw, children who applied "
                                                                             "for the previous term and got no seat "
                                                                             "go first")
    themes: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        default=None, max_length=20, examples=[["红色传承", "安全教育", "阅读分享"]], description="Course themes")
    fee_cents: int | None = Field(default=None, ge=0, le=1_000_000, description="0 = free (无偿); otherwise a low "
                                                                               "fee (低偿) in fen")
    excluded_dates: list[Day] | None = Field(default=None, max_length=366,
                                             description="Dates without a session (e.g. Spring Festival days)")
    offer_hours: int | None = Field(default=None, ge=1, le=336,
                                    description="Offer promotion: hours a family has to accept a freed seat")
    published: bool | None = Field(default=None, description="Shown to parents (default true)")


class ProgrammeCreate(ProgrammeFields):
    """A new programme; its sessions are generated from the dates, weekdays and times."""

    community_id: Id
    kind: ProgrammeKind
    title: str = Field(min_length=1, max_length=200)
    capacity: int = Field(ge=0, le=100_000)
    mode: EnrolmentMode = EnrolmentMode.WHOLE
    starts_on: Day
    ends_on: Day
    weekdays: list[Weekday] = Field(min_length=1, max_length=7, examples=[[1, 2, 3, 4, 5]])
    start_time: ClockTime
    end_time: ClockTime
    registration_opens_at: InstantIn | None
    registration_closes_at: InstantIn | None
    allocation: Allocation = Allocation.FIRST_COME
    promotion: Promotion = Promotion.AUTO
    needs_approval: bool = False


class ProgrammeUpdate(ProgrammeFields):
    """Change a programme; `capacity` goes through the seat service, which promotes from the waiting list."""

    #: optional, but never null: the default is only "not sent"
    capacity: int = Field(default=None, ge=0, le=100_000)


class ProgrammeOut(Out):
    id: int
    community_id: int
    venue_id: int | None
    kind: ProgrammeKind
    title: str
    description: str
    capacity: int
    mode: EnrolmentMode
    allocation: Allocation
    promotion: Promotion
    needs_approval: bool
    starts_on: Day
    ends_on: Day
    weekdays: list[int]
    start_time: ClockTime
    end_time: ClockTime
    min_age: int | None
    max_age: int | None
    min_grade: int | None
    max_grade: int | None
    fee_cents: int
    registration_opens_at: Instant | None
    registration_closes_at: Instant | None
    children_per_adult: int
    min_volunteers: int
    claim_cutoff_hours: int
    pause_enrolment_when_understaffed: bool
    late_after_minutes: int
    absence_alert_minutes: int
    sweep_after_minutes: int
    seats_left: int | None = Field(description="Whole mode: capacity minus seats held; day mode: null "
                                               "(see the sessions)")
    waitlist_length: int
    registration: Registration = Field(description="Whether sign-ups are taken at the moment of this answer (its "
                                                   "Date header): not yet (see registration_opens_at), open, "
                                                   "closed, or the programme has ended")
    priority_groups: list[PriorityGroupOut] = Field(description="Families in these groups are given seats first "
                                                                "(in a draw, too), in rank order")
    previous_programme_id: int | None
    previous_unsuccessful_first: bool
    themes: list[str]
    excluded_dates: list[Day]
    offer_hours: int
    published: bool
    drawn_at: Instant | None = Field(description="A draw programme: when its draw was made; null before")
    draw_seed: str | None = Field(description="The published seed: with it anyone can repeat the draw's order")


class PriorityGroupOut(Out):
    id: int
    name: str
    rank: int = Field(description="1 goes first")


class SessionOut(Out):
    id: int
    programme_id: int
    on_date: Day
    starts_at: Instant
    ends_at: Instant
    venue_id: int | None
    capacity: int | None = Field(description="Day mode: seats of this session; null = the programme's capacity")
    cancelled: bool
    note: str
    seats_left: int | None = Field(description="Day mode only; null in whole mode")


class ProgrammeDetail(ProgrammeOut):
    sessions: list[SessionOut]


# --- children -----------------------------------------------------------------------------------------------------


class PickupPersonIn(In):
    name: str = Field(min_length=1, max_length=60)
    relation: str = Field(default="", max_length=30)
    phone: str = Field(default="", max_length=30)


class PickupPersonUpdate(PickupPersonIn):
    """One entry of the list a PATCH sends: with an `id` it changes that person, without one it adds a person."""

    id: Id | None = Field(default=None, description="One of this child's pickup persons; omitted for a new person")
    blocked: bool | None = Field(default=None, description="A blocked person is refused at check-out; omitted: "
                                                           "unchanged (a new person is not blocked)")


class PickupPersonOut(Out):
    id: int
    name: str
    relation: str
    phone: str
    blocked: bool = Field(description="A blocked person is refused at check-out")


class ChildFields(In):
    """A child's details, all optional (PATCH sends only what changes)."""

    name: str | None = Field(default=None, min_length=1, max_length=60)
    gender: Gender | None = None
    birth_date: Day | None = None
    grade: Grade | None = Field(default=None, description="0 = kindergarten, 1–6 primary, 7–9 junior middle")
    school: str | None = Field(default=None, max_length=120)
    allergies: str | None = Field(default=None, max_length=500)
    medical_notes: str | None = Field(default=None, max_length=1000)
    special_needs: str | None = Field(default=None, max_length=1000)
    photo_consent: bool | None = None
    may_go_home_alone: bool | None = None
    emergency_contact_name: str | None = Field(default=None, max_length=60)
    emergency_contact_phone: str | None = Field(default=None, max_length=30)


class ChildCreate(ChildFields):
    """Add a child; `consent` records the guardian's separate consent to process a minor's information."""

    name: str = Field(min_length=1, max_length=60)
    relation: str = Field(default="", max_length=30, description="The guardian's relation, e.g. 妈妈")
    pickup_persons: list[PickupPersonIn] = Field(default_factory=list, max_length=20)
    consent: bool = Field(description="Must be true: the guardian consents to the processing of the child's "
                                      "personal information")


class ChildUpdate(ChildFields):
    """Change a child's details: only the fields sent change; `pickup_persons`, when sent, is the whole new list."""

    #: optional, but never null: the default is only "not sent"
    pickup_persons: list[PickupPersonUpdate] = Field(
        default=None, max_length=20,
        description="Replaces the child's pickup persons: entries with an `id` change that person, entries without "
                    "one are added, and persons not listed are removed (`[]` removes all). Each entry is the whole "
                    "person: an omitted relation or phone is blank. Omit the field to leave the persons as they are.")


class ChildOut(Out):
    id: int
    name: str
    gender: Gender | None
    birth_date: Day | None
    grade: int | None
    school: str
    allergies: str
    medical_notes: str
    special_needs: str
    photo_consent: bool
    may_go_home_alone: bool
    emergency_contact_name: str
    emergency_contact_phone: str
    pickup_persons: list[PickupPersonOut]


# --- enrolments ---------------------------------------------------------------------------------------------------


class EnrolmentCreate(In):
    """Enrol children in a programme (whole mode) or in sessions of it (day mode)."""

    programme_id: Id
    child_ids: list[Id] = Field(min_length=1, max_length=20)
    session_ids: list[Id] | None = Field(default=None, max_length=400, description="Day mode: the sessions booked")
    all_or_none: bool = Field(default=False, description="Either every child gets a seat, or none is enrolled")
    priority_group_id: Id | None = Field(default=None, description="One of the programme's priority_groups that "
                                                                "the family belongs to; the community checks it")


class EnrolmentListQuery(In):
    status: EnrolmentStatus | None = Field(default=None, description="Only enrolments with this status")


class EnrolmentBrief(Out):
    id: int
    child_id: int
    session_id: int | None = None
    status: EnrolmentStatus
    position: int | None = Field(default=None, description="Waiting-list position (1-based) when waitlisted")


class EnrolmentBatch(Out):
    enrolments: list[EnrolmentBrief]


class EnrolmentOut(Out):
    id: int
    programme_id: int
    session_id: int | None
    child_id: int
    status: EnrolmentStatus
    position: int | None = Field(default=None, description="Waiting-list position (1-based) when waitlisted")
    offer_expires_at: Instant | None
    created_at: Instant
    ended_at: Instant | None
    priority_group_id: int | None = Field(default=None, description="The programme's priority group the child is "
                                                                    "in, if any")
    draw_rank: int | None = Field(default=None, description="A drawn programme: the place this application was "
                                                            "drawn at (see the programme's draw_seed)")


class PriorityGroupChange(In):
    """Confirm or correct the priority group a family chose (coordinators of the programme's community)."""

    priority_group_id: Id | None = Field(description="One of the programme's priority_groups; null for none")


class GuardianContactOut(Out):
    name: str
    relation: str
    phone: str = Field(description="E.164, e.g. +8613800138000")


class ManagedEnrolmentOut(EnrolmentOut):
    child_name: str
    guardians: list[GuardianContactOut] = Field(description="Whom to call about the child")


class LeaveCreate(In):
    """Tell the coordinator in advance that a child will miss sessions (请假)."""

    child_id: Id
    session_ids: list[Id] = Field(min_length=1, max_length=100)
    reason: str = Field(default="", max_length=300)


class LeaveOut(Out):
    id: int
    child_id: int
    session_id: int
    reason: str
    created_at: Instant
    cancelled_at: Instant | None = Field(default=None, description="When the guardian withdrew it; null while it "
                                                                   "stands")


class LeaveBatch(Out):
    leaves: list[LeaveOut]


class ScheduleQuery(In):
    from_: Day | None = Field(default=None, alias="from",
                              description="First day (default today; earlier days count from today, the furthest "
                                          "is a year ahead)")
    days: int = Field(default=14, ge=1, le=92, description="How many days from `from`")


class ScheduleItem(Out):
    """One session one of the guardian's children attends (siblings in one session are one item each)."""

    session_id: int
    programme_id: int
    programme_title: str
    on_date: Day
    starts_at: Instant
    ends_at: Instant
    venue: str | None = Field(description="The venue's name; null when none is set")
    cancelled: bool
    note: str
    child_id: int
    child_name: str
    enrolment_id: int
    status: EnrolmentStatus = Field(description="confirmed or pending: the statuses that hold the seat")
    leave: LeaveOut | None = Field(description="The leave asked for this child and session, if it stands")


class SchedulePage(Out):
    items: list[ScheduleItem]
    next: Day | None = Field(default=None, description="The `from` that shows the following sessions: the next day "
                                                       "with a session after this window; null when there is none")
