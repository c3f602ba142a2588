"""The demo dataset: communities and programmes from the regional reports, demo accounts."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import sqlalchemy as sa

from childcare.accounts import services as accounts
from childcare.accounts.models import Role, User
from childcare.children.queries import children_of
from childcare.children.services import add_child
from childcare.db import db, utcnow
from childcare.enrolment.services import enrol
from childcare.i18n import to_local
from childcare.places.models import Community, District, DistrictKind, Street, StreetKind, Venue
from childcare.programmes.models import Allocation, EnrolmentMode, Programme, ProgrammeKind
from childcare.programmes.queries import sessions_of
from childcare.programmes.services import create_programme
from childcare.volunteers import queries as volunteer_queries
from childcare.volunteers import services as volunteers
from childcare.volunteers.models import ApplicationStatus, VolunteerKind

PLACES = [
    # (city, district, district kind, street, street kind, community, address, description, venues)
    ("运城市", "盐湖区", DistrictKind.DISTRICT, "姚孟街道", StreetKind.STREET, "皮革城社区", "盐湖区皮革城小区内",
     "皮革城社区党群服务中心，面向辖区双职工家庭开展四点半课堂。", ["党群服务中心二楼活动室", "荷叶娃娃托管中心"]),
    ("运城市", "盐湖区", DistrictKind.DISTRICT, "姚孟街道", StreetKind.STREET, "华源豪庭社区", "盐湖区华源豪庭小区",
     "华源豪庭社区服务站。", ["社区服务站多功能室"]),
    ("长治市", "壶关县", DistrictKind.COUNTY, "龙泉镇", StreetKind.TOWN, "水塔社区", "壶关县龙泉镇水塔社区",
     "水塔社区党群服务中心，开展小荷课堂等十余项服务项目。", ["党群服务中心二楼"]),
    ("运城市", "永济市", DistrictKind.CITY, "城北街道", StreetKind.STREET, "杏北社区", "永济市杏北社区",
     "杏北社区辖31个小区、约1.6万户，七色花成长营地已连续开办四年。", ["党群服务中心二楼", "社区阅览室"]),
]

DEMO_ACCOUNTS: list[dict[str, Any]] = [
    {"label": "administrator / 管理员", "phone": "13900000001", "password": "Demo-admin-2026", "name": "王管理",
     "roles": [Role.ADMIN], "community": None},
    {"label": "coordinator 杏北社区", "phone": "13900000002", "password": "Demo-coord-2026", "name": "李社工",
     "roles": [Role.COORDINATOR], "community": "杏北社区"},
    {"label": "coordinator 皮革城社区", "phone": "13900000003", "password": "Demo-coord-2026", "name": "赵网格",
     "roles": [Role.COORDINATOR], "community": "皮革城社区"},
    {"label": "coordinator 水塔社区", "phone": "13900000004", "password": "Demo-coord-2026", "name": "孙书记",
     "roles": [Role.COORDINATOR], "community": "水塔社区"},
    {"label": "coordinator 华源豪庭社区", "phone": "13900000005", "password": "Demo-coord-2026", "name": "周社工",
     "roles": [Role.COORDINATOR], "community": "华源豪庭社区"},
    {"label": "volunteer (student) / 志愿者", "phone": "13900000011", "password": "Demo-volunteer-2026",
     "name": "陈同学", "roles": [Role.VOLUNTEER], "community": None},
    {"label": "volunteer (retired) / 志愿者", "phone": "13900000012", "password": "Demo-volunteer-2026",
     "name": "刘老师", "roles": [Role.VOLUNTEER], "community": None},
    {"label": "guardian / 家长", "phone": "13900000021", "password": "Demo-parent-2026", "name": "张妈妈",
     "roles": [Role.GUARDIAN], "community": None},
    {"label": "guardian / 家长", "phone": "13900000022", "password": "Demo-parent-2026", "name": "杨爸爸",
     "roles": [Role.GUARDIAN], "community": None},
]


def _next_weekday(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def _programmes(today: date) -> list[dict[str, Any]]:
    """Dates relative to today, so the demo always shows something upcoming."""
    term_start = _next_weekday(today, 0)
    winter = date(today.year + (1 if today.month > 2 else 0), 1, 15)
    summer = date(today.year + (1 if today.month > 7 else 0), 7, 10)
    return [
        {"community": "杏北社区", "venue": "党群服务中心二楼", "kind": ProgrammeKind.HOLIDAY_CAMP,
         "title": "七色花成长营地（寒假）", "themes": "红色传承,安全教育,阅读分享,科学探索,艺术创想,体育健康,劳动实践",
         "description": "“你办年货我带娃”：返乡大学生志愿者陪伴孩子度过寒假。名额紧张，报名期内申请，截止后公开抽签。",
         "capacity": 20, "allocation": Allocation.DRAW, "priority_groups": ["本社区双职工家庭", "本社区其他家庭"],
         "starts_on": winter, "ends_on": winter + timedelta(days=20), "start_time": time(9), "end_time": time(12)},
        {"community": "杏北社区", "venue": "社区阅览室", "kind": ProgrammeKind.AFTER_SCHOOL,
         "title": "杏北四点半课堂", "themes": "作业辅导,阅读分享", "capacity": 30,
         "description": "放学后到家长下班前，志愿者辅导作业。",
         "starts_on": term_start, "ends_on": term_start + timedelta(weeks=8),
         "start_time": time(16, 30), "end_time": time(18)},
        {"community": "皮革城社区", "venue": "荷叶娃娃托管中心", "kind": ProgrammeKind.HOLIDAY_CAMP,
         "title": "荷叶娃娃暑期公益课堂", "themes": "思维数学,幼小识字", "capacity": 15,
         "description": "每天上午9:00–12:00，免费。", "starts_on": summer, "ends_on": summer + timedelta(days=30),
         "start_time": time(9), "end_time": time(12)},
        {"community": "皮革城社区", "venue": "党群服务中心二楼活动室", "kind": ProgrammeKind.AFTER_SCHOOL,
         "title": "皮革城四点半课堂", "themes": "作业辅导", "capacity": 25, "description": "",
         "starts_on": term_start, "ends_on": term_start + timedelta(weeks=8),
         "start_time": time(16, 30), "end_time": time(18, 30)},
        {"community": "水塔社区", "venue": "党群服务中心二楼", "kind": ProgrammeKind.HOLIDAY_CAMP,
         "title": "小荷课堂（暑假）", "themes": "书法,手工,阅读分享", "capacity": 20,
         "description": "应居民需求开办的暑期托管班，按天预约。", "mode": EnrolmentMode.DAY,
         "starts_on": summer, "ends_on": summer + timedelta(days=25),
         "start_time": time(8, 30), "end_time": time(11, 30), "fee_cents": 5000},
        {"community": "华源豪庭社区", "venue": "社区服务站多功能室", "kind": ProgrammeKind.AFTER_SCHOOL,
         "title": "华源四点半课堂", "themes": "作业辅导,安全教育", "capacity": 12, "description": "",
         "starts_on": term_start, "ends_on": term_start + timedelta(weeks=8),
         "start_time": time(16, 40), "end_time": time(18, 10)},
    ]


def _get_or_create(model: type, defaults: dict[str, Any] | None = None, **keys: Any) -> tuple[Any, bool]:
    found = db.session.scalar(sa.select(model).filter_by(**keys))
    if found is not None:
        return found, False
    obj = model(**keys, **(defaults or {}))
    db.session.add(obj)
    db.session.flush()
    return obj, True


CHILDREN = [
    # (guardian phone, name, gender, birth date, grade, school, allergies, photo consent, home alone, pickup)
    ("13900000021", "张小雨", "female", date(2017, 5, 12), 3, "盐湖区实验小学", "花生", True, False,
     [{"name": "王奶奶", "relation": "奶奶", "phone": "13900000031"}]),
    ("13900000021", "张小乐", "male", date(2019, 9, 3), 1, "盐湖区实验小学", "", False, False, []),
    ("13900000022", "杨子涵", "female", date(2015, 11, 20), 5, "永济市城北小学", "", True, True,
     [{"name": "杨爷爷", "relation": "爷爷", "phone": "13900000032"}]),
]


def _families_and_enrolments(programmes: dict[str, Programme]) -> int:
    """The demo guardians' children, each enrolled in an after-school class (through the real services)."""
    created = 0
    for phone, name, gender, birth, grade, school, allergies, photos, alone, pickup in CHILDREN:
        guardian = accounts.find_by_phone(accounts.normalise_phone(phone))
        child = next((c for c in children_of(guardian) if c.name == name), None)
        if child is None:
            child = add_child(actor=guardian, name=name, gender=gender, birth_date=birth, grade=grade, school=school,
                              allergies=allergies, photo_consent=photos, may_go_home_alone=alone,
                              pickup_persons=pickup, consent=True, relation="妈妈" if phone.endswith("21") else "爸爸")
            created += 1
        title = "杏北四点半课堂" if phone.endswith("22") else "皮革城四点半课堂"
        enrol(actor=guardian, programme_id=programmes[title].id, child_ids=[child.id])  # idempotent
    return created


VOLUNTEERS = [
    # (phone, kind, organisation, skills, availability, the after-school class (and so the community) they serve)
    ("13900000011", VolunteerKind.STUDENT, "山西大学", "作业辅导、阅读", "寒暑假、周末", "杏北四点半课堂"),
    ("13900000012", VolunteerKind.RETIRED_CADRE, "退休前：盐湖区实验小学", "作业辅导、书法", "工作日下午",
     "皮革城四点半课堂"),
]
POSTS_PER_VOLUNTEER = 3


def _volunteers_with_posts(admin: User, programmes: dict[str, Programme]) -> int:
    """The demo volunteers, approved in a community (through the real services), each holding a post in the next
    sessions of its after-school class, so that their board and roster show the work."""
    created = 0
    today = to_local(utcnow()).date()
    for phone, kind, organisation, skills, availability, title in VOLUNTEERS:
        volunteer = accounts.find_by_phone(accounts.normalise_phone(phone))
        programme = programmes[title]
        application = volunteers.apply(actor=volunteer, community_id=programme.community_id, kind=kind,
                                       organisation=organisation, skills=skills, availability=availability)
        if application.status == ApplicationStatus.PENDING:
            volunteers.decide(actor=admin, application_id=application.id, approve=True, note="演示数据")
            created += 1
        held = {shift.session_id for shift in volunteer_queries.held_shifts_of(volunteer, utcnow())}
        upcoming = [session for session in sessions_of(programme.id)
                    if session.on_date >= today and not session.cancelled][:POSTS_PER_VOLUNTEER]
        for session in upcoming:
            if session.id not in held and volunteer_queries.overlapping_shift(volunteer.id, session) is None:
                volunteers.assign(actor=admin, session_id=session.id, volunteer_id=volunteer.id)
                created += 1
    return created


def load_demo() -> int:
    """Create what is missing and leave the rest alone; answers how many records were new."""
    created = 0
    communities: dict[str, Community] = {}
    venues: dict[tuple[str, str], Venue] = {}
    for city, district_name, district_kind, street_name, street_kind, name, address, description, venue_names \
            in PLACES:
        district, new = _get_or_create(District, {"kind": district_kind, "city": city}, name=district_name)
        created += new
        street, new = _get_or_create(Street, {"kind": street_kind}, district_id=district.id, name=street_name)
        created += new
        community, new = _get_or_create(Community, {"address": address, "description": description},
                                        street_id=street.id, name=name)
        created += new
        communities[name] = community
        for venue_name in venue_names:
            venue, new = _get_or_create(Venue, community_id=community.id, name=venue_name)
            created += new
            venues[(name, venue_name)] = venue

    for account in DEMO_ACCOUNTS:
        phone = accounts.normalise_phone(account["phone"])
        user = accounts.find_by_phone(phone)
        if user is None:
            user = accounts.register(phone=account["phone"], password=account["password"], name=account["name"],
                                     roles=())
            created += 1
        community = communities.get(account["community"]) if account["community"] else None
        for role in account["roles"]:
            accounts.grant_role(actor=None, user=user, role=role, community_id=community.id if community else None)

    admin = accounts.find_by_phone(accounts.normalise_phone(DEMO_ACCOUNTS[0]["phone"]))
    today = to_local(utcnow()).date()
    programmes: dict[str, Programme] = {}
    for spec in _programmes(today):
        spec = dict(spec)
        community = communities[spec.pop("community")]
        venue = venues[(community.name, spec.pop("venue"))]
        found = db.session.scalar(sa.select(Programme).filter_by(community_id=community.id, title=spec["title"]))
        if found is None:
            weekdays = [1, 2, 3, 4, 5] if spec["kind"] == ProgrammeKind.AFTER_SCHOOL else [1, 2, 3, 4, 5, 6, 7]
            found = create_programme(actor=admin, community_id=community.id, venue_id=venue.id, weekdays=weekdays,
                                     registration_opens_at=utcnow() - timedelta(days=1),
                                     registration_closes_at=utcnow() + timedelta(days=20), **spec)
            created += 1
        programmes[found.title] = found
    created += _families_and_enrolments(programmes)
    created += _volunteers_with_posts(admin, programmes)
    return created
