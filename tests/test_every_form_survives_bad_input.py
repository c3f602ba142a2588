"""Bad input on any form gets a clear message in the user's language, never a 500, and nothing typed is lost.

Every HTML route that accepts POST (the app's URL map, outside the JSON API) is used here by someone allowed to use
it: the guardian of the child, the volunteer on duty, the community's coordinator, an administrator, or a visitor for
logging in and registering. The ids in its address name real objects that person may act on. Each form is sent,
with a valid CSRF token, what careless fingers, a pasted document or a tampered request produce: every field empty,
every field 100,000 characters long, a NUL character in the text, numbers beyond 64 bits (and just beyond the 32 bits
of an integer column), negative or not numbers at all, dates and times that do not exist or are written in words,
choices that are not offered, every field twice, and no fields at all. A button (a form without fields) is sent junk
fields instead.

Whatever comes in, the answer is a page (or a redirect to one) in the user's language; input that cannot be right is
refused with a message saying why, and a form that comes back with an error still holds what the person typed in its
other fields. Each kind of input is sent on the same world, rolled back after each, so one does not hide the next.
"""

from __future__ import annotations

import html
import io
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import url_for

from childcare.accounts.models import ApiToken, Role, RoleGrant, User
from childcare.accounts.services import national_phone
from childcare.attendance import qr
from childcare.attendance import services as attendance
from childcare.db import db
from childcare.enrolment.models import EnrolmentStatus
from childcare.extensions import limiter
from childcare.notifications.models import Notification
from childcare.programmes.models import Allocation, EnrolmentMode
from childcare.updates.models import DailyUpdate
from childcare.volunteers import services as volunteer_services
from childcare.volunteers.models import ApplicationStatus
from tests.api.conftest import make_token
from tests.children.factories import InvitationFactory, PickupPersonFactory
from tests.conftest import csrf_token_from
from tests.enrolment.factories import LOCAL, PriorityGroupFactory
from tests.enrolment.view_factories import ChildFactory, EnrolmentFactory, LeaveFactory, add_sessions
from tests.factories import (
    PASSWORD,
    AdminFactory,
    CommunityFactory,
    CoordinatorFactory,
    ProgrammeFactory,
    UserFactory,
    VenueFactory,
)
from tests.programmes.factories import CalendarDayFactory
from tests.test_security import _rules
from tests.volunteers.factories import ApplicationFactory, ShiftFactory, volunteer_of

#: the story happens on Monday 6 July 2026 at 16:40 in Yuncheng, ten minutes into the afternoon session
NOW = datetime(2026, 7, 6, 16, 40, tzinfo=LOCAL)
TODAY = NOW.date()

# ---- the world: one community and everyone who uses it ----------------------------------------------------------


@dataclass
class World:
    """Ids and values of the people and objects every form's address can point at (plain values: no ORM objects)."""

    ids: dict[str, int] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)
    #: what each person's login session holds (their id and session version)
    logins: dict[str, str] = field(default_factory=dict)
    qr_token: str = ""

    def __getattr__(self, name: str) -> int:
        try:
            return self.ids[name]
        except KeyError:
            raise AttributeError(name) from None


def build_world() -> World:
    """杏北社区 on a summer afternoon: a camp in session, a family with a seat, volunteers and their coordinator."""
    w = World()
    community = CommunityFactory(name="杏北社区")
    venue = VenueFactory(community=community, name="党群服务中心二楼")
    coordinator = CoordinatorFactory(community=community, name="刘主任")
    admin = AdminFactory(name="区管理员")

    camp = ProgrammeFactory(community=community, venue=venue, title="七色花成长营地", capacity=10,
                            starts_on=TODAY - timedelta(days=7), ends_on=TODAY + timedelta(days=30),
                            start_time=time(16, 30), end_time=time(18, 30))
    now_session, later_session = add_sessions(camp, 1, skip_days=7)[0], add_sessions(camp, 1, skip_days=10)[0]
    day_camp = ProgrammeFactory(community=community, venue=venue, title="小荷课堂", mode=EnrolmentMode.DAY,
                                starts_on=TODAY + timedelta(days=3), ends_on=TODAY + timedelta(days=5))
    day_sessions = add_sessions(day_camp)
    residents = PriorityGroupFactory(programme=camp, rank=1, name="本社区双职工家庭")
    day_residents = PriorityGroupFactory(programme=day_camp, rank=1, name="本社区居民")
    draw_camp = ProgrammeFactory(community=community, venue=venue, title="暑期公益课堂",
                                 allocation=Allocation.DRAW)

    guardian = UserFactory(name="王芳")
    child = ChildFactory(name="王小明", guardian=guardian)
    offered_child = ChildFactory(name="王小红", guardian=guardian)
    pending_child = ChildFactory(name="王小刚", guardian=guardian)
    seat = EnrolmentFactory(programme=camp, child=child)
    offer = EnrolmentFactory(programme=camp, child=offered_child, status=EnrolmentStatus.OFFERED)
    pending = EnrolmentFactory(programme=camp, child=pending_child, status=EnrolmentStatus.PENDING)
    grandma = PickupPersonFactory(child=child, name="李秀英", relation="外婆")
    invitee = UserFactory(name="王建国")
    invitation = InvitationFactory(child=child, invited_by_id=guardian.id, phone=invitee.phone, relation="爸爸")
    leave = LeaveFactory(child=child, session=later_session)

    volunteer = volunteer_of(community, name="李老师")
    shift = ShiftFactory(session=now_session, volunteer=volunteer)
    later_shift = ShiftFactory(session=later_session, volunteer=volunteer)
    second_volunteer = volunteer_of(community, name="赵同学")
    applicant = UserFactory(name="张阿姨")
    application = ApplicationFactory(user=applicant, community=community, status=ApplicationStatus.PENDING)
    holder = UserFactory(name="陈志愿")
    holder.grants.append(RoleGrant(role=Role.VOLUNTEER))

    calendar_day = CalendarDayFactory(on_date=date(2026, 10, 1), name="国庆节", created_by_id=coordinator.id)
    notification = Notification(user_id=guardian.id, kind="enrolment.confirmed", data={})
    update = DailyUpdate(session_id=now_session.id, author_id=volunteer.id, note="今天读了绘本")
    db.session.add_all([notification, update])
    db.session.commit()
    w.qr_token = qr.make_token(now_session)

    w.ids.update(
        community=community.id, street=community.street_id, district=community.street.district_id, venue=venue.id,
        coordinator=coordinator.id, admin=admin.id, guardian=guardian.id, invitee=invitee.id, child=child.id,
        pickup_person=grandma.id, invitation=invitation.id, camp=camp.id, day_camp=day_camp.id,
        draw_camp=draw_camp.id, now_session=now_session.id, later_session=later_session.id,
        day_session=day_sessions[0].id, residents=residents.id, day_residents=day_residents.id, seat=seat.id,
        offer=offer.id, pending=pending.id, leave=leave.id,
        volunteer=volunteer.id, second_volunteer=second_volunteer.id, shift=shift.id, later_shift=later_shift.id,
        application=application.id, holder=holder.id, calendar_day=calendar_day.id, notification=notification.id,
        update=update.id, token=_api_token_id(guardian),
    )
    w.phones.update(guardian=national_phone(guardian.phone), invitee=national_phone(invitee.phone))
    w.logins.update({name: user.get_id() for name, user in (
        ("guardian", guardian), ("invitee", invitee), ("volunteer", volunteer), ("second_volunteer", second_volunteer),
        ("coordinator", coordinator), ("admin", admin))})
    return w


def _api_token_id(user) -> int:
    make_token(user)
    return db.session.scalar(sa.select(ApiToken.id).where(ApiToken.user_id == user.id))


def checked_in(w: World) -> None:
    """The child arrived at the start of the afternoon, so there is someone to check out."""
    attendance.check_in(actor=db.session.get(User, w.volunteer), session_id=w.now_session, child_id=w.child)
    db.session.commit()


def on_duty(w: World) -> None:
    """The volunteer checked in for the afternoon, so there is a shift to check out of."""
    volunteer_services.check_in(actor=db.session.get(User, w.volunteer), shift_id=w.shift)
    db.session.commit()


# ---- the forms ---------------------------------------------------------------------------------------------------

TEXT, PASSWORD_, PHONE, NUMBER, DATE, TIME, DATETIME, CHOICE, TICK, IDS, PICKUP, FILE = (
    "text", "password", "phone", "number", "date", "time", "datetime", "choice", "tick", "ids", "pickup", "file")


@dataclass(frozen=True)
class Form:
    """One form as its user meets it: who sends it, where to, and its fields (kind and a sensible value)."""

    endpoint: str
    actor: str | None
    address: Callable[[World], dict]
    fields: Callable[[World], dict[str, tuple[str, object]]] = lambda w: {}
    #: a form with a field that must be filled in refuses an empty or missing one (a button refuses nothing)
    required: bool = True
    #: an edit form keeps the saved value of a field that is not sent at all (as a browser never omits one)
    edits: bool = False
    #: kinds of bad input this form may accept politely (say why at the form)
    lenient: tuple[str, ...] = ()
    before: Callable[[World], None] | None = None
    label: str = ""

    @property
    def name(self) -> str:
        return f"{self.endpoint}{self.label}"


def child_fields(w: World) -> dict:
    return {"name": (TEXT, "王小明"), "gender": (CHOICE, "male"), "birth_date": (DATE, "2018-05-01"),
            "grade": (CHOICE, "2"), "school": (TEXT, "杏北小学"), "allergies": (TEXT, "花生"),
            "medical_notes": (TEXT, "哮喘，随身带喷雾"), "special_needs": (TEXT, "怕黑"),
            "emergency_contact_name": (TEXT, "李秀英"), "emergency_contact_phone": (PHONE, "13900002222"),
            "photo_consent": (TICK, "y"), "may_go_home_alone": (TICK, "")}


def pickup_fields(w: World) -> dict:
    return {"name": (TEXT, "张伟"), "relation": (TEXT, "舅舅"), "phone": (PHONE, "13900003333")}


def district_fields(w: World) -> dict:
    return {"name": (TEXT, "盐湖区"), "kind": (CHOICE, "district"), "city": (TEXT, "运城市")}


def street_fields(w: World) -> dict:
    return {"name": (TEXT, "姚孟街道"), "kind": (CHOICE, "street")}


def community_fields(w: World) -> dict:
    return {"name": (TEXT, "水塔社区"), "address": (TEXT, "解放路12号"), "contact_phone": (PHONE, "0359-2021234"),
            "description": (TEXT, "一刻钟便民生活圈")}


def venue_fields(w: World) -> dict:
    return {"name": (TEXT, "党群服务中心三楼"), "address": (TEXT, "解放路12号"), "capacity": (NUMBER, "20")}


def programme_fields(w: World) -> dict:
    return {"kind": (CHOICE, "holiday_camp"), "title": (TEXT, "七色花成长营地（暑假）"),
            "description": (TEXT, "阅读分享、安全教育"), "themes": (TEXT, "阅读分享, 安全教育"),
            "venue_id": (NUMBER, str(w.venue)), "mode": (CHOICE, "whole"), "allocation": (CHOICE, "first_come"),
            "promotion": (CHOICE, "auto"), "offer_hours": (NUMBER, "24"), "needs_approval": (TICK, ""),
            "published": (TICK, "y"), "children_per_adult": (NUMBER, "10"), "min_volunteers": (NUMBER, "1"),
            "claim_cutoff_hours": (NUMBER, "2"), "pause_enrolment_when_understaffed": (TICK, ""),
            "late_after_minutes": (NUMBER, "10"), "absence_alert_minutes": (NUMBER, "15"),
            "sweep_after_minutes": (NUMBER, "20"), "starts_on": (DATE, "2026-07-13"), "ends_on": (DATE, "2026-07-31"),
            "weekdays": (IDS, ["1", "3", "5"]), "start_time": (TIME, "09:00"), "end_time": (TIME, "12:00"),
            "excluded_dates": (DATE, "2026-07-20"), "min_age": (NUMBER, "6"), "max_age": (NUMBER, "12"),
            "min_grade": (NUMBER, "1"), "max_grade": (NUMBER, "6"), "fee_yuan": (NUMBER, "0"),
            "registration_opens_at": (DATETIME, "2026-07-06T08:00"),
            "registration_closes_at": (DATETIME, "2026-07-12T20:00"), "priority_groups": (TEXT, "本社区双职工家庭")}


def paper_fields(w: World) -> dict:
    row = f"row-{w.child}-"
    return {row + "state": (CHOICE, "present"), row + "check_in": (TIME, "16:35"), row + "check_out": (TIME, "16:39"),
            row + "pickup": (PICKUP, f"guardian:{w.guardian}")}


def at(endpoint: str, actor: str | None, address: Callable[[World], dict] = lambda w: {}, **kwargs) -> Form:
    return Form(endpoint, actor, address, **kwargs)


def button(endpoint: str, actor: str, address: Callable[[World], dict] = lambda w: {}, **kwargs) -> Form:
    return Form(endpoint, actor, address, required=False, **kwargs)


FORMS = [
    # accounts: a visitor logs in or registers; a guardian changes the password, the language, access tokens
    at("accounts.login", None, fields=lambda w: {"phone": (PHONE, w.phones["guardian"]),
                                                 "password": (PASSWORD_, PASSWORD), "remember": (TICK, "y"),
                                                 "next": (TEXT, "/children/")}),
    at("accounts.register", None, fields=lambda w: {"name": (TEXT, "王芳"), "phone": (PHONE, "13900001111"),
                                                    "password": (PASSWORD_, PASSWORD),
                                                    "confirm": (PASSWORD_, PASSWORD)}),
    button("accounts.logout", "guardian"),
    at("accounts.settings", "guardian", fields=lambda w: {"current_password": (PASSWORD_, PASSWORD),
                                                          "new_password": (PASSWORD_, "Newer-pass-2027"),
                                                          "confirm": (PASSWORD_, "Newer-pass-2027")}),
    at("accounts.set_language", "guardian", required=False,
       fields=lambda w: {"language": (CHOICE, "zh_CN"), "next": (TEXT, "/children/")}),
    at("api_tokens.create", "guardian", required=False, fields=lambda w: {"name": (TEXT, "社区小程序")}),
    button("api_tokens.revoke", "guardian", lambda w: {"token_id": w.token}),
    # attendance: the volunteer on duty marks the roster; the coordinator corrects; a guardian scans the code
    button("attendance.check_in", "volunteer", lambda w: {"session_id": w.now_session, "child_id": w.child}),
    button("attendance.mark_absent", "volunteer", lambda w: {"session_id": w.now_session, "child_id": w.child}),
    button("attendance.mark_rest_absent", "volunteer", lambda w: {"session_id": w.now_session}),
    at("attendance.check_out", "coordinator", lambda w: {"session_id": w.now_session, "child_id": w.child},
       fields=lambda w: {"pickup": (PICKUP, "override"), "pickup_name": (TEXT, "王建国"),
                         "override_reason": (TEXT, "爸爸来接，电话核实")}, before=checked_in),
    at("attendance.correct", "coordinator", lambda w: {"session_id": w.now_session, "child_id": w.child},
       fields=lambda w: {"new_state": (CHOICE, "present"), "reason": (TEXT, "补签：其实准时到了")}),
    at("attendance_paper.enter_sheet", "volunteer", lambda w: {"session_id": w.now_session}, required=False,
       fields=paper_fields),
    at("attendance_qr.check_in", "guardian", lambda w: {"token": w.qr_token},
       fields=lambda w: {"child_ids": (IDS, [str(w.child)])}),
    # children: the guardian's own child, pickup persons and a second guardian
    at("children.add", "guardian", fields=lambda w: {**child_fields(w), "relation": (TEXT, "妈妈"),
                                                     "consent": (TICK, "y")}),
    at("children.edit", "guardian", lambda w: {"child_id": w.child}, fields=child_fields, edits=True),
    at("children.remove", "guardian", lambda w: {"child_id": w.child}, fields=lambda w: {"confirm": (TICK, "y")}),
    at("children.add_pickup_person", "guardian", lambda w: {"child_id": w.child}, fields=pickup_fields),
    at("children.edit_pickup_person", "guardian", lambda w: {"child_id": w.child, "pickup_person_id": w.pickup_person},
       fields=pickup_fields, edits=True),
    button("children.block_pickup_person", "guardian",
           lambda w: {"child_id": w.child, "pickup_person_id": w.pickup_person}),
    button("children.unblock_pickup_person", "guardian",
           lambda w: {"child_id": w.child, "pickup_person_id": w.pickup_person}),
    button("children.remove_pickup_person", "guardian",
           lambda w: {"child_id": w.child, "pickup_person_id": w.pickup_person}),
    at("children.invite", "guardian", lambda w: {"child_id": w.child},
       fields=lambda w: {"phone": (PHONE, "13700001234"), "relation": (TEXT, "爸爸")}),
    button("children.cancel_invitation", "guardian", lambda w: {"child_id": w.child, "invitation_id": w.invitation}),
    button("children.accept_invitation", "invitee", lambda w: {"invitation_id": w.invitation}),
    button("children.decline_invitation", "invitee", lambda w: {"invitation_id": w.invitation}),
    # enrolment: the guardian enrols, accepts or declines an offer, cancels, asks for leave; the coordinator manages
    at("enrolment.enrol", "guardian", lambda w: {"programme_id": w.day_camp},
       fields=lambda w: {"child_ids": (IDS, [str(w.child)]), "session_ids": (IDS, [str(w.day_session)]),
                         "all_or_none": (TICK, ""), "priority_group_id": (CHOICE, str(w.day_residents))}),
    button("enrolment.accept", "guardian", lambda w: {"enrolment_id": w.offer}),
    button("enrolment.decline", "guardian", lambda w: {"enrolment_id": w.offer}),
    at("enrolment.cancel", "guardian", lambda w: {"enrolment_id": w.seat}, required=False,
       fields=lambda w: {"reason": (TEXT, "孩子回老家了")}),
    at("enrolment.request_leave", "guardian",
       fields=lambda w: {"child_id": (NUMBER, str(w.child)), "session_id": (NUMBER, str(w.later_session)),
                         "reason": (TEXT, "看病")}),
    button("enrolment.cancel_leave", "guardian", lambda w: {"leave_id": w.leave}),
    button("enrolment.approve", "coordinator", lambda w: {"programme_id": w.camp, "enrolment_id": w.pending}),
    at("enrolment.change_priority_group", "coordinator", lambda w: {"programme_id": w.camp, "enrolment_id": w.seat},
       required=False, fields=lambda w: {"priority_group_id": (CHOICE, str(w.residents))}),
    at("enrolment.remove", "coordinator", lambda w: {"programme_id": w.camp, "enrolment_id": w.seat},
       fields=lambda w: {"reason": (TEXT, "重复报名")}),
    at("enrolment.change_capacity", "coordinator", lambda w: {"programme_id": w.camp},
       fields=lambda w: {"capacity": (NUMBER, "12"), "session_id": (NUMBER, "")}),
    at("enrolment.run_draw", "coordinator", lambda w: {"programme_id": w.draw_camp}, required=False,
       fields=lambda w: {"seed": (TEXT, "20260706")}),
    at("enrolment.edit_session", "coordinator", lambda w: {"session_id": w.later_session}, edits=True,
       fields=lambda w: {"starts_at_local": (DATETIME, "2026-07-09T16:30"),
                         "ends_at_local": (DATETIME, "2026-07-09T18:30"), "venue_id": (NUMBER, str(w.venue)),
                         "note": (TEXT, "改在三楼"), "cancelled": (TICK, "")}),
    # notifications: the guardian marks the inbox read
    # An id that is no longer (or never was) in one's inbox has nothing to mark: the inbox simply shows again.
    at("notifications.mark_read", "guardian", required=False, lenient=("choices that are not offered",),
       fields=lambda w: {"id": (IDS, [str(w.notification)])}),
    # people: the administrator gives and takes away roles
    at("people.grant", "admin", fields=lambda w: {"phone": (PHONE, w.phones["guardian"]),
                                                  "role": (CHOICE, "coordinator"),
                                                  "community_id": (NUMBER, str(w.community))}),
    at("people.grant", "admin", lambda w: {"user_id": w.guardian}, label="[from the person's page]",
       fields=lambda w: {"phone": (PHONE, w.phones["guardian"]), "role": (CHOICE, "volunteer"),
                         "community_id": (NUMBER, "")}),
    at("people.revoke", "admin", lambda w: {"user_id": w.holder},
       fields=lambda w: {"role": (CHOICE, "volunteer"), "community_id": (NUMBER, "")}),
    # places: the administrator runs the tree; a coordinator adds and edits the community's venues
    at("places.add_district", "admin", fields=district_fields),
    at("places.add_street", "admin", fields=lambda w: {**street_fields(w), "district_id": (NUMBER, str(w.district))}),
    at("places.add_community", "admin",
       fields=lambda w: {**community_fields(w), "street_id": (NUMBER, str(w.street))}),
    at("places.add_venue", "coordinator",
       fields=lambda w: {**venue_fields(w), "community_id": (NUMBER, str(w.community))}),
    at("places.edit_district", "admin", lambda w: {"district_id": w.district}, fields=district_fields, edits=True),
    at("places.edit_street", "admin", lambda w: {"street_id": w.street}, fields=street_fields, edits=True),
    at("places.edit_community", "admin", lambda w: {"community_id": w.community}, fields=community_fields,
       edits=True),
    at("places.edit_venue", "coordinator", lambda w: {"venue_id": w.venue}, fields=venue_fields, edits=True),
    # programmes: the coordinator creates and edits programmes and the school calendar
    at("programmes.create", "coordinator",
       fields=lambda w: {**programme_fields(w), "community_id": (NUMBER, str(w.community)),
                         "capacity": (NUMBER, "15")}),
    at("programmes.edit", "coordinator", lambda w: {"programme_id": w.camp}, fields=programme_fields, edits=True),
    at("programmes.set_calendar_day", "coordinator",
       fields=lambda w: {"on_date": (DATE, "2027-02-07"), "is_school_day": (CHOICE, "1"), "name": (TEXT, "春节调休")}),
    button("programmes.delete_calendar_day", "coordinator", lambda w: {"calendar_day_id": w.calendar_day}),
    # updates: the volunteer on duty posts the daily update, and withdraws one
    at("updates.post", "volunteer", lambda w: {"session_id": w.now_session},
       fields=lambda w: {"note": (TEXT, "今天读了绘本《小熊》"), "photos": (FILE, None)}),
    button("updates.withdraw", "volunteer", lambda w: {"update_id": w.update}),
    # volunteers: a resident applies; volunteers claim and serve; the coordinator decides, assigns, confirms
    at("volunteers.apply", "invitee",
       fields=lambda w: {"community_id": (NUMBER, str(w.community)), "kind": (CHOICE, "retired_cadre"),
                         "organisation": (TEXT, "盐湖区教育局"), "skills": (TEXT, "书法"),
                         "availability": (TEXT, "周三下午")}),
    button("volunteers.claim", "second_volunteer", lambda w: {"session_id": w.day_session}),
    button("volunteers.release", "volunteer", lambda w: {"shift_id": w.later_shift}),
    button("volunteers.check_in", "volunteer", lambda w: {"shift_id": w.shift}),
    button("volunteers.check_out", "volunteer", lambda w: {"shift_id": w.shift}, before=on_duty),
    at("volunteers.decide", "coordinator", lambda w: {"application_id": w.application},
       fields=lambda w: {"decision": (CHOICE, "approve"), "note": (TEXT, "欢迎加入")}),
    at("volunteers.assign", "coordinator", lambda w: {"session_id": w.later_session},
       fields=lambda w: {"volunteer_id": (NUMBER, str(w.second_volunteer))}),
    at("volunteers.remove", "coordinator", lambda w: {"shift_id": w.later_shift}, required=False,
       fields=lambda w: {"reason": (TEXT, "临时调整")}),
    at("volunteers.confirm_times", "coordinator", lambda w: {"shift_id": w.shift},
       fields=lambda w: {"arrived": (TIME, "16:20"), "left": (TIME, "18:40")}),
    at("volunteers.correct_hours", "coordinator", lambda w: {"user_id": w.volunteer},
       fields=lambda w: {"community_id": (NUMBER, str(w.community)), "minutes": (NUMBER, "30"),
                         "reason": (TEXT, "补录上周的活动"), "served_on": (DATE, "2026-07-01")}),
]


# ---- what careless fingers and tampered requests send -------------------------------------------------------------

HUGE = "x" * 100_000
NUL = "小\u0000明"
BEYOND_64_BITS = "9" * 40
TEXTS = (TEXT, PASSWORD_)
WHEN = (DATE, TIME, DATETIME)


@dataclass(frozen=True)
class Upload:
    """A file part, made into a fresh stream for every request."""

    content: bytes
    filename: str

    def part(self) -> tuple[io.BytesIO, str]:
        return io.BytesIO(self.content), self.filename


@dataclass(frozen=True)
class Variant:
    """One kind of bad input: which fields it spoils, and how."""

    name: str
    spoil: Callable[[str, object], object | None]  # (kind, sensible value) -> bad value, or None to leave the field
    #: the input cannot be right, so it must be refused with an explanation (else any polite answer will do)
    refused: Callable[[Form], bool] = lambda form: True


def _every(bad: str, upload: Upload) -> Callable[[str, object], object | None]:
    """Every field gets the bad value (a checkbox is ticked by any value, so it keeps its own)."""
    return lambda kind, value: upload if kind == FILE else [bad] if kind == IDS else None if kind == TICK else bad


def _text(bad: str, upload: Upload) -> Callable[[str, object], object | None]:
    return lambda kind, value: bad if kind in TEXTS else upload if kind == FILE else None


def _number(bad: str, phone: str | None = None) -> Callable[[str, object], object | None]:
    """The bad number in number fields, lists of ids and a pickup's id ('guardian:<id>')."""
    return lambda kind, value: {NUMBER: bad, IDS: [bad], PICKUP: f"guardian:{bad}", PHONE: phone}.get(kind)


VARIANTS = [
    Variant("every field empty", _every("", Upload(b"", "")), lambda form: form.required),
    Variant("every field 100,000 characters long", _every(HUGE, Upload(HUGE.encode(), HUGE[:200] + ".jpg"))),
    Variant("a NUL character in the text", _text(NUL, Upload(b"\x00" * 64, "小\u0000明.jpg"))),
    Variant("numbers beyond 64 bits", _number(BEYOND_64_BITS)),
    Variant("negative numbers beyond 64 bits", _number("-" + BEYOND_64_BITS)),
    Variant("numbers just beyond 32 bits", _number(str(2**31))),
    # A minus sign can be meaningful (taking minutes away from a volunteer's hours): any polite answer will do.
    Variant("a negative number", _number("-1"), lambda form: False),
    Variant("numbers in words", _number("十二", phone="一三八零零一三八零零零")),
    Variant("dates and times that do not exist", lambda kind, value: {
        DATE: "2026-13-45", TIME: "25:61", DATETIME: "2026-13-45T25:61"}.get(kind)),
    Variant("dates and times in words", lambda kind, value: "yesterday" if kind in WHEN else None),
    Variant("choices that are not offered", lambda kind, value: {
        CHOICE: "no-such-choice", PICKUP: "no-such-choice", IDS: ["987654321"]}.get(kind)),
    # The first value is the sensible one: any polite answer will do, as long as nothing breaks.
    Variant("every field twice", lambda kind, value: None if kind == FILE else
            [*value, *value] if isinstance(value, list) else [value, "十二"], lambda form: False),
    Variant("no fields at all", lambda kind, value: None, lambda form: form.required and not form.edits),
]
JUNK = {"junk": HUGE, "id": BEYOND_64_BITS, "note": NUL, "on_date": "2026-13-45", "next": "//evil.example/"}
BUTTON_VARIANTS = [
    ("junk fields", dict(JUNK)),
    ("junk fields twice", {key: [value, "-" + BEYOND_64_BITS] for key, value in JUNK.items()}),
]


def attempts(fields: dict[str, tuple[str, object]]) -> list[tuple[Variant | None, str, dict]]:
    """(variant, its name, the form data) for every kind of bad input that touches one of the form's fields."""
    if not fields:
        return [(None, name, data) for name, data in BUTTON_VARIANTS]
    found = []
    for variant in VARIANTS:
        if variant.name == "no fields at all":
            found.append((variant, variant.name, {}))
            continue
        spoiled = {name: variant.spoil(kind, value) for name, (kind, value) in fields.items()}
        if all(value is None for value in spoiled.values()):
            continue  # nothing of this kind on the form
        data = sensible(fields)
        data.update({name: value for name, value in spoiled.items() if value is not None})
        found.append((variant, variant.name, data))
    return found


def as_sent(data: dict, token: str) -> dict:
    sent = {name: value.part() if isinstance(value, Upload) else value for name, value in data.items()}
    return {**sent, "csrf_token": token}


# ---- reading the answer as the user would -------------------------------------------------------------------------

FIELD_ERROR = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)
#: a flashed message (a page's standing notice, such as an unknown year's calendar, carries a data-testid instead)
FLASH = re.compile(r'<(?:div|p) class="flash flash-(\w+)" role="(?:alert|status)">(.*?)</(?:div|p)>', re.S)
ERROR_PAGE = re.compile(r'<section class="card narrow error-page"[^>]*>(.*?)</section>', re.S)
TAG = re.compile(r"<[^>]+>")
CHINESE = re.compile(r"[\u3400-\u9fff]")
ENGLISH_WORDS = re.compile(r"[A-Za-z]{2,}[\s,.'’:-]+[A-Za-z]{2,}")
THREE_ENGLISH_WORDS = re.compile(r"[A-Za-z]{2,}(?:[\s,.'’:-]+[A-Za-z]{2,}){2}")


def plain(fragment: str) -> str:
    return " ".join(html.unescape(TAG.sub(" ", fragment)).split())


@dataclass
class Answer:
    """What the user ends up looking at: the page after any redirects, its language and its messages."""

    statuses: list[int]
    page: str
    redirected: bool
    errors: list[str]
    notes: list[str]

    @property
    def lang(self) -> str | None:
        match = re.search(r'<html lang="([^"]+)"', self.page)
        return match.group(1) if match else None


def follow(client, response) -> Answer:
    statuses, redirected = [response.status_code], False
    for _hop in range(5):
        if response.status_code not in (301, 302, 303, 307, 308):
            break
        location = urlsplit(response.headers["Location"])
        assert location.netloc in ("", "localhost"), f"sent off the site to {response.headers['Location']}"
        redirected = True
        response = client.get(location.path + (f"?{location.query}" if location.query else ""))
        statuses.append(response.status_code)
    page = response.get_data(as_text=True)
    errors = [plain(m) for m in FIELD_ERROR.findall(page)]
    notes = []
    for category, message in FLASH.findall(page):
        (errors if category in ("error", "warning") else notes).append(plain(message))
    if response.status_code >= 400:
        errors += [plain(m) for m in ERROR_PAGE.findall(page)]
    return Answer(statuses, page, redirected, [e for e in errors if e], [n for n in notes if n])


def in_language(message: str, language: str) -> bool:
    if language == "en":
        return bool(ENGLISH_WORDS.search(message))
    return bool(CHINESE.search(message)) and not THREE_ENGLISH_WORDS.search(message)


def problems(form: Form, fields: dict, variant: Variant | None, name: str, data: dict, answer: Answer,
             language: str) -> list[str]:
    """What is wrong with the answer, in words that name the form and the input."""
    where = f"{form.name} with {name}"
    if any(status >= 500 for status in answer.statuses):
        return [f"{where}: answered {answer.statuses} (a server error)"]
    found = []
    expected_lang = "en" if language == "en" else "zh-CN"
    if answer.lang != expected_lang:
        found.append(f"{where}: the page is not in the user's language ({answer.lang!r}, statuses {answer.statuses})")
    for message in answer.errors + answer.notes:
        if not in_language(message, language):
            found.append(f"{where}: {message[:120]!r} is not in the user's language")
    if variant is not None and variant.refused(form) and variant.name not in form.lenient and not answer.errors:
        found.append(f"{where}: accepted or ignored without a word of explanation (statuses {answer.statuses}, "
                     f"messages {[n[:80] for n in answer.notes]})")
    if answer.errors and not answer.redirected:
        for field_name, (kind, _value) in fields.items():
            typed = data.get(field_name)
            if kind not in (TEXT, PHONE) or not isinstance(typed, str) or not typed or typed in (HUGE, NUL):
                continue
            if f'name="{field_name}"' in answer.page and html.escape(typed, quote=True) not in answer.page \
                    and html.escape(typed, quote=False) not in answer.page:
                found.append(f"{where}: the form came back without what was typed in {field_name!r} ({typed!r})")
    return found


# ---- the stories --------------------------------------------------------------------------------------------------


@pytest.fixture
def summer_afternoon(app, time_machine):
    time_machine.move_to(NOW, tick=False)
    with app.app_context():
        return build_world()


def sensible(fields: dict[str, tuple[str, object]]) -> dict:
    return {name: value for name, (_kind, value) in fields.items() if value is not None}


def send_all(app, client, form: Form, world: World, tries: list[tuple[Variant | None, str, dict]],
             language: str = "zh_CN") -> list[tuple[Variant | None, str, dict, Answer]]:
    """Send each try as the form's user, on the same world (rolled back after each), and read the answers."""
    with app.test_request_context():
        url = url_for(form.endpoint, **form.address(world))
    if form.before:
        with app.app_context():
            form.before(world)
    if language == "en":
        client.set_cookie("lang", "en")
    login = world.logins[form.actor] if form.actor else None
    token = None
    answers = []
    for variant, name, data in tries:
        limiter.reset()
        connection = db.session.get_bind()
        db.session.remove()
        savepoint = connection.begin_nested()
        try:
            client.delete_cookie("remember_token")  # who is logged in is the try's business alone
            with client.session_transaction() as session:
                session.pop("_user_id", None)
                session.pop("_flashes", None)
                if login is not None:
                    session["_user_id"] = login
                    session["_fresh"] = True
            token = token or csrf_token_from(client, "/")
            response = client.post(url, data=as_sent(data, token))
            answers.append((variant, name, data, follow(client, response)))
        finally:
            db.session.remove()
            savepoint.rollback()
    return answers


def send_everything(app, client, form: Form, world: World, language: str = "zh_CN") -> list[str]:
    """Send the form every kind of bad input and collect what is wrong with the answers."""
    fields = form.fields(world)
    found = []
    for variant, name, data, answer in send_all(app, client, form, world, attempts(fields), language):
        found += problems(form, fields, variant, name, data, answer, language)
    return found


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.name)
def test_the_person_using_each_form_can_send_it_filled_in_sensibly(app, client, summer_afternoon, form):
    # The refusals below are the bad input's doing: filled in sensibly, each form does what its user wanted.
    fields = form.fields(summer_afternoon)
    [(_variant, _name, _data, answer)] = send_all(app, client, form, summer_afternoon,
                                                  [(None, "its sensible filling", sensible(fields))])
    assert all(status < 400 for status in answer.statuses), answer.statuses
    assert answer.errors == [], answer.errors
    assert answer.lang == "zh-CN" and all(in_language(note, "zh_CN") for note in answer.notes), answer.notes


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.name)
def test_bad_input_on_a_form_is_explained_in_chinese_never_a_crash(app, client, summer_afternoon, form):
    found = send_everything(app, client, form, summer_afternoon)
    assert not found, "\n".join(found)


ENGLISH_SAMPLE = ["children.add", "programmes.create", "volunteers.correct_hours", "enrolment.request_leave",
                  "attendance_paper.enter_sheet", "people.grant"]


@pytest.mark.parametrize("form", [f for f in FORMS if f.name in ENGLISH_SAMPLE], ids=lambda form: form.name)
def test_bad_input_is_explained_in_english_to_someone_who_chose_english(app, client, summer_afternoon, form):
    found = send_everything(app, client, form, summer_afternoon, language="en")
    assert not found, "\n".join(found)


def test_every_form_in_the_app_is_sent_bad_input_here(app):
    routes = {(rule.endpoint, tuple(sorted(rule.arguments))) for rule, _method in _rules(app, {"POST"})}
    anywhere = World(ids=defaultdict(lambda: 1), qr_token="t")
    covered = {(form.endpoint, tuple(sorted(form.address(anywhere)))) for form in FORMS}
    assert routes == covered, f"not sent bad input: {routes - covered}; no longer in the app: {covered - routes}"
    assert len(FORMS) == len(covered), "each form is listed once"


# ---- found on the way ---------------------------------------------------------------------------------------------


def test_an_inbox_page_mark_beyond_any_id_shows_the_first_page(client, login_as):
    guardian = UserFactory()
    db.session.add(Notification(user_id=guardian.id, kind="enrolment.confirmed", data={}))
    db.session.commit()
    login_as(guardian)
    for before in ("9" * 40, "-" + "9" * 40, "十二"):
        response = client.get(f"/notifications/?before={before}")
        assert response.status_code == 200, before
        assert 'class="card notification unread"' in response.get_data(as_text=True)
