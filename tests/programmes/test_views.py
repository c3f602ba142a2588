"""A coordinator manages the programmes of their community on the phone: list, create, edit, sessions, calendar."""

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from childcare.db import db
from childcare.programmes.models import Allocation, CalendarDay, Programme, ProgrammeKind, ProgrammeSession
from tests.enrolment.factories import PriorityGroupFactory
from tests.factories import (
    AdminFactory,
    CommunityFactory,
    CoordinatorFactory,
    ProgrammeFactory,
    UserFactory,
    VenueFactory,
)
from tests.programmes.factories import SessionFactory

FORM = {"kind": "after_school", "title": "杏北四点半课堂", "capacity": "20", "mode": "whole",
        "allocation": "first_come", "promotion": "auto", "offer_hours": "24", "published": "y",
        "starts_on": "2026-09-28", "ends_on": "2026-10-16", "weekdays": ["1", "2", "3", "4", "5"],
        "start_time": "16:30", "end_time": "18:30", "excluded_dates": "2026-10-09, 2026-10-12",
        "fee_yuan": "", "registration_opens_at": "2026-09-01T08:00", "registration_closes_at": "",
        "priority_groups": "本社区双职工家庭\n其他家庭", "min_grade": "1", "max_grade": "6"}


def _coordinator():
    community = CommunityFactory()
    return CoordinatorFactory(community=community), community


def test_a_guardian_is_refused_the_coordinator_screens(client, login_as):
    login_as(UserFactory())
    assert client.get("/manage/programmes/").status_code == 403
    assert client.get("/manage/programmes/new").status_code == 403
    assert client.get("/manage/programmes/calendar").status_code == 403


def test_the_list_shows_only_the_programmes_of_the_coordinators_community(client, login_as):
    coordinator, community = _coordinator()
    ProgrammeFactory(community=community, title="我们的暑期班")
    ProgrammeFactory(title="别人的暑期班")
    login_as(coordinator)

    page = client.get("/manage/programmes/").get_data(as_text=True)

    assert "我们的暑期班" in page and "别人的暑期班" not in page


def test_a_coordinator_creates_an_after_school_class_with_the_form(client, login_as, post_form):
    coordinator, community = _coordinator()
    venue = VenueFactory(community=community, name="党群服务中心二楼")
    login_as(coordinator)

    response = post_form("/manage/programmes/new", {**FORM, "community_id": str(community.id),
                                                    "venue_id": str(venue.id)})

    assert response.status_code == 302
    programme = db.session.scalar(sa.select(Programme).where(Programme.title == "杏北四点半课堂"))
    assert programme.community_id == community.id and programme.venue_id == venue.id
    assert programme.excluded_dates == ["2026-10-09", "2026-10-12"]
    assert programme.registration_opens_at == datetime(2026, 9, 1, 0, 0, tzinfo=UTC)
    assert [g.name for g in programme.priority_groups] == ["本社区双职工家庭", "其他家庭"]
    dates = {s.on_date for s in db.session.scalars(sa.select(ProgrammeSession)
                                                      .where(ProgrammeSession.programme_id == programme.id))}
    assert date(2026, 10, 1) not in dates and date(2026, 10, 9) not in dates and date(2026, 10, 10) in dates
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "党群服务中心二楼" in page and "16:30" in page


def test_next_term_starts_from_this_one_and_lets_its_draw_favour_the_families_who_got_no_seat(client, login_as,
                                                                                              post_form):
    coordinator, community = _coordinator()
    venue = VenueFactory(community=community, name="党群服务中心二楼")
    spring = ProgrammeFactory(community=community, venue=venue, title="杏北四点半课堂（春季）", capacity=25,
                              kind=ProgrammeKind.AFTER_SCHOOL, allocation=Allocation.DRAW, min_grade=1, max_grade=6)
    PriorityGroupFactory(programme=spring, rank=1, name="本社区双职工家庭")
    login_as(coordinator)
    client.set_cookie("lang", "en")
    page = client.get(f"/manage/programmes/{spring.id}").get_data(as_text=True)
    url = re.search(r'data-testid="next-term" href="([^"]+)"', page).group(1)

    form = client.get(url).get_data(as_text=True)

    assert re.search(r'<input[^>]*name="title"[^>]*value="杏北四点半课堂（春季）"', form)
    assert re.search(r'<input[^>]*name="capacity"[^>]*value="25"', form)
    assert f'<option selected value="{spring.id}">' in form  # the previous term, chosen
    assert "本社区双职工家庭</textarea>" in form
    assert re.search(r'<input[^>]*name="starts_on"[^>]*value=""', form)  # a new term has dates of its own

    response = post_form("/manage/programmes/new", {
        **FORM, "title": "杏北四点半课堂（秋季）", "community_id": str(community.id), "venue_id": str(venue.id),
        "allocation": "draw", "previous_programme_id": str(spring.id), "previous_unsuccessful_first": "y"},
        token_from=url)

    assert response.status_code == 302
    autumn = db.session.scalar(sa.select(Programme).where(Programme.title == "杏北四点半课堂（秋季）"))
    assert (autumn.previous_programme_id, autumn.previous_unsuccessful_first) == (spring.id, True)
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "杏北四点半课堂（春季）" in shown and "children who got no seat then go first" in shown


def test_a_previous_term_must_be_of_the_same_community(client, login_as, post_form):
    coordinator, community = _coordinator()
    mine = ProgrammeFactory(community=community)
    elsewhere = ProgrammeFactory()
    login_as(coordinator)
    client.set_cookie("lang", "en")
    url = f"/manage/programmes/{mine.id}/edit"

    response = post_form(url, {**FORM, "previous_programme_id": str(elsewhere.id)})

    assert response.status_code == 200 and "an earlier programme of the same community" in response.get_data(
        as_text=True)
    assert client.get(f"/manage/programmes/new?from={elsewhere.id}").status_code == 404


def test_the_programme_page_leads_to_its_enrolments_and_to_what_parents_see(client, login_as):
    coordinator, community = _coordinator()
    hall, library = (VenueFactory(community=community, name=name) for name in ("党群服务中心二楼", "社区图书室"))
    shown = ProgrammeFactory(community=community, venue=hall)
    SessionFactory(programme=shown, venue=hall)
    SessionFactory(programme=shown, venue=library, on_date=shown.starts_on + timedelta(days=1))
    hidden = ProgrammeFactory(community=community, published=False)
    login_as(coordinator)

    page = client.get(f"/manage/programmes/{shown.id}").get_data(as_text=True)
    assert page.count("党群服务中心二楼") == 1 and page.count("社区图书室") == 1  # a session's venue where it differs
    assert f'href="/manage/programmes/{shown.id}/enrolments"' in page
    assert f'href="/programmes/{shown.id}"' in page
    enrolments = client.get(f"/manage/programmes/{shown.id}/enrolments").get_data(as_text=True)
    assert f'href="/manage/programmes/{shown.id}"' in enrolments  # and back

    page = client.get(f"/manage/programmes/{hidden.id}").get_data(as_text=True)
    assert f'href="/manage/programmes/{hidden.id}/enrolments"' in page
    assert f'href="/programmes/{hidden.id}"' not in page  # parents cannot see it yet


def test_weekdays_and_dates_are_listed_as_each_language_lists_them(client, login_as):
    coordinator, community = _coordinator()
    programme = ProgrammeFactory(community=community, weekdays="1,3,5", excluded_dates=["2027-01-20", "2027-01-21"])
    login_as(coordinator)

    page = client.get(f"/manage/programmes/{programme.id}").get_data(as_text=True)
    assert "星期一、星期三和星期五" in page and "2027年1月20日和2027年1月21日" in page
    client.set_cookie("lang", "en")
    page = client.get(f"/manage/programmes/{programme.id}").get_data(as_text=True)
    assert "Monday, Wednesday, and Friday" in page and "Jan 20, 2027 and Jan 21, 2027" in page


@pytest.mark.parametrize(("weekdays", "chinese", "english"), [
    ("1,2,3,4,5", "星期一至星期五", "Monday to Friday"),
    ("1,2,3,5,7", "星期一至星期三、星期五和星期日", "Monday to Wednesday, Friday, and Sunday"),
    ("6,7", "星期六和星期日", "Saturday and Sunday"),
    ("1,2,3,4,5,6,7", "每天", "Every day"),
])
def test_three_weekdays_or_more_in_a_row_are_said_as_a_span(client, login_as, weekdays, chinese, english):
    coordinator, community = _coordinator()
    programme = ProgrammeFactory(community=community, weekdays=weekdays)
    login_as(coordinator)

    assert f"<dd>{chinese}</dd>" in client.get(f"/manage/programmes/{programme.id}").get_data(as_text=True)
    client.set_cookie("lang", "en")
    assert f"<dd>{english}</dd>" in client.get(f"/manage/programmes/{programme.id}").get_data(as_text=True)


def test_a_refused_rule_comes_back_on_the_form_not_as_an_error_page(client, login_as, post_form):
    coordinator, community = _coordinator()
    login_as(coordinator)
    client.set_cookie("lang", "en")

    response = post_form("/manage/programmes/new", {**FORM, "community_id": str(community.id),
                                                    "end_time": "16:00", "fee_yuan": "-3"})

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The end time must be after the start time." in page or "Number must be at least 0" in page
    assert db.session.scalar(sa.select(sa.func.count(Programme.id))) == 0


def test_a_domain_error_is_put_on_its_field(client, login_as, post_form):
    coordinator, community = _coordinator()
    login_as(coordinator)
    client.set_cookie("lang", "en")

    response = post_form("/manage/programmes/new", {**FORM, "community_id": str(community.id), "end_time": "16:00"})

    assert response.status_code == 200
    assert 'id="end_time-error"' in response.get_data(as_text=True)
    assert "The end time must be after the start time." in response.get_data(as_text=True)


def test_a_malformed_excluded_date_is_a_form_error(client, login_as, post_form):
    coordinator, community = _coordinator()
    login_as(coordinator)
    client.set_cookie("lang", "en")

    response = post_form("/manage/programmes/new", {**FORM, "community_id": str(community.id),
                                                    "excluded_dates": "2026-02-30"})

    assert response.status_code == 200
    assert "Please write dates as 2026-02-16" in response.get_data(as_text=True)


def test_creating_in_another_community_is_refused(client, login_as, post_form):
    coordinator, _community = _coordinator()
    other = CommunityFactory()
    login_as(coordinator)

    response = post_form("/manage/programmes/new", {**FORM, "community_id": str(other.id)})

    assert response.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(Programme.id))) == 0


def test_another_communitys_programme_answers_not_found(client, login_as):
    coordinator, _community = _coordinator()
    theirs = ProgrammeFactory()
    item = SessionFactory(programme=theirs)
    login_as(coordinator)

    assert client.get(f"/manage/programmes/{theirs.id}").status_code == 404
    assert client.get(f"/manage/programmes/{theirs.id}/edit").status_code == 404
    assert client.get(f"/manage/programmes/sessions/{item.id}/edit").status_code == 404


def test_a_coordinator_edits_a_programme_and_sees_it_saved(client, login_as, post_form):
    coordinator, community = _coordinator()
    programme = ProgrammeFactory(community=community, venue=None, starts_on=date(2026, 7, 6),
                                 ends_on=date(2026, 7, 10), weekdays="1,2,3,4,5", start_time=time(9),
                                 end_time=time(12))
    login_as(coordinator)
    url = f"/manage/programmes/{programme.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'value="09:00"' in page and "暑期课堂" in page

    data = {**FORM, "kind": "holiday_camp", "title": "小荷课堂", "starts_on": "2026-07-06", "ends_on": "2026-07-10",
            "start_time": "09:00", "end_time": "12:00", "excluded_dates": "", "registration_opens_at": "",
            "priority_groups": ""}
    data.pop("capacity")
    response = post_form(url, data)

    assert response.status_code == 302
    assert db.session.get(Programme, programme.id).title == "小荷课堂"


def test_a_coordinator_cancels_a_session_with_a_note(client, login_as, post_form):
    coordinator, community = _coordinator()
    programme = ProgrammeFactory(community=community)
    item = SessionFactory(programme=programme, starts_at=datetime(2027, 7, 6, 1, tzinfo=UTC),
                          ends_at=datetime(2027, 7, 6, 4, tzinfo=UTC), on_date=date(2027, 7, 6))
    login_as(coordinator)
    url = f"/manage/programmes/sessions/{item.id}/edit"
    assert 'value="2027-07-06T09:00"' in client.get(url).get_data(as_text=True)

    response = post_form(url, {"starts_at_local": "2027-07-06T09:00", "ends_at_local": "2027-07-06T11:30",
                               "venue_id": "", "note": "暴雨停课", "cancelled": "y"})

    assert response.status_code == 302
    item = db.session.get(ProgrammeSession, item.id)
    assert item.cancelled and item.note == "暴雨停课"
    assert item.ends_at == datetime(2027, 7, 6, 3, 30, tzinfo=UTC)


def test_the_calendar_warns_of_an_unknown_year_and_takes_a_new_holiday(client, login_as, post_form):
    coordinator, _community = _coordinator()
    login_as(coordinator)
    client.set_cookie("lang", "en")

    page = client.get("/manage/programmes/calendar?year=2027").get_data(as_text=True)
    assert 'data-testid="unknown-year"' in page and "2027" in page

    response = post_form("/manage/programmes/calendar", {"on_date": "2027-01-01", "is_school_day": "0",
                                                         "name": "元旦"}, follow_redirects=True)

    assert response.status_code == 200
    day = db.session.scalar(sa.select(CalendarDay))
    assert day.on_date == date(2027, 1, 1) and day.is_school_day is False and day.name == "元旦"
    assert "元旦" in response.get_data(as_text=True)

    response = post_form(f"/manage/programmes/calendar/{day.id}/delete", {}, token_from="/manage/programmes/calendar")
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(CalendarDay.id))) == 0


def test_another_coordinators_entry_offers_no_remove_button(client, login_as):
    entered_by, _community = _coordinator()
    day = CalendarDay(on_date=date(2027, 10, 8), is_school_day=True, name="补班", created_by_id=entered_by.id)
    db.session.add(day)
    db.session.flush()
    login_as(_coordinator()[0])
    client.set_cookie("lang", "en")

    page = client.get("/manage/programmes/calendar?year=2027").get_data(as_text=True)

    assert "补班" in page and "Entered by another coordinator" in page
    assert f"/manage/programmes/calendar/{day.id}/delete" not in page


def test_the_programme_list_runs_the_same_few_queries_for_one_or_twenty_programmes(client, login_as, count_queries):
    admin = AdminFactory()
    community = CommunityFactory()
    ProgrammeFactory(community=community)
    login_as(admin)
    client.get("/manage/programmes/")  # warm up

    with count_queries() as one:
        assert client.get("/manage/programmes/").status_code == 200
    for _ in range(19):
        ProgrammeFactory()
    with count_queries() as twenty:
        page = client.get("/manage/programmes/").get_data(as_text=True)

    assert page.count('class="programme"') == 20
    assert twenty() == one() and one() <= 8


def test_a_coordinator_sets_the_volunteer_ratio_and_the_attendance_timings(client, login_as, post_form):
    coordinator, community = _coordinator()
    programme = ProgrammeFactory(community=community, venue=None, starts_on=date(2026, 7, 6),
                                 ends_on=date(2026, 7, 10), weekdays="1,2,3,4,5", start_time=time(9),
                                 end_time=time(12))
    login_as(coordinator)
    url = f"/manage/programmes/{programme.id}/edit"
    assert 'name="children_per_adult"' in client.get(url).get_data(as_text=True)
    data = {**FORM, "kind": "holiday_camp", "title": programme.title, "starts_on": "2026-07-06",
            "ends_on": "2026-07-10", "start_time": "09:00", "end_time": "12:00", "excluded_dates": "",
            "registration_opens_at": "", "priority_groups": "", "children_per_adult": "8", "min_volunteers": "2",
            "claim_cutoff_hours": "12", "pause_enrolment_when_understaffed": "y", "late_after_minutes": "5",
            "absence_alert_minutes": "20", "sweep_after_minutes": "30"}
    data.pop("capacity")
    assert post_form(url, data).status_code == 302
    saved = db.session.get(Programme, programme.id)
    assert (saved.children_per_adult, saved.min_volunteers, saved.claim_cutoff_hours, saved.late_after_minutes,
            saved.absence_alert_minutes, saved.sweep_after_minutes) == (8, 2, 12, 5, 20, 30)
    assert saved.pause_enrolment_when_understaffed

    client.set_cookie("lang", "en")
    refused = post_form(url, {**data, "children_per_adult": "0"})
    assert refused.status_code == 200 and "children_per_adult" in refused.get_data(as_text=True)
    assert db.session.get(Programme, programme.id).children_per_adult == 8
