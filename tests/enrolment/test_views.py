"""The enrolment screens: parents browse, enrol, see their places and schedule; coordinators manage the list."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from childcare.db import db
from childcare.enrolment.models import Enrolment, EnrolmentStatus, Leave
from childcare.notifications.models import Notification
from childcare.programmes.models import Allocation, EnrolmentMode, ProgrammeKind, Promotion
from childcare.qr_codes import qr_svg
from tests.enrolment.factories import PriorityGroupFactory
from tests.enrolment.view_factories import (
    SHANGHAI,
    ChildFactory,
    EnrolmentFactory,
    LeaveFactory,
    add_sessions,
    fresh,
    programme_with_sessions,
)
from tests.factories import CommunityFactory, CoordinatorFactory, ProgrammeFactory, UserFactory


@pytest.fixture(autouse=True)
def english(client):
    client.set_cookie("lang", "en")


def local_today() -> date:
    """Today where the communities are, as the schedule counts its weeks."""
    return datetime.now(SHANGHAI).date()


def text(response) -> str:
    return response.get_data(as_text=True)


def enrolments_of(child) -> list[Enrolment]:
    return list(db.session.scalars(sa.select(Enrolment).where(Enrolment.child_id == child.id)
                                   .order_by(Enrolment.id).execution_options(populate_existing=True)))


# ---- browsing ------------------------------------------------------------------------------------------------------


def test_anyone_browses_published_programmes_with_seats_left_and_the_page_links_them(client):
    shown = programme_with_sessions(title="七色花成长营地", capacity=15)
    ProgrammeFactory(title="内部测试班", published=False)
    EnrolmentFactory(programme=shown)

    page = text(client.get("/programmes/"))

    assert "七色花成长营地" in page and "内部测试班" not in page
    assert f'href="/programmes/{shown.id}"' in page
    assert "14 seats left" in page


def test_the_list_tells_when_registration_opens_or_that_it_has_closed(client):
    soon = programme_with_sessions(title="暑期阅读营", registration_opens_at=datetime.now(UTC) + timedelta(hours=2))
    closed = programme_with_sessions(title="书法课", registration_closes_at=datetime.now(UTC) - timedelta(hours=1))
    programme_with_sessions(title="七色花成长营地")

    page = text(client.get("/programmes/"))

    items = {title: item for item in page.split('data-testid="programme"')[1:]
             for title in (soon.title, closed.title, "七色花成长营地") if title in item}
    assert 'data-testid="opens-at"' in items[soon.title] and "Registration opens at" in items[soon.title]
    assert 'data-testid="closed"' in items[closed.title]
    assert "opens-at" not in items["七色花成长营地"] and 'data-testid="closed"' not in items["七色花成长营地"]


def test_browse_filters_by_community_kind_and_date(client):
    community = CommunityFactory()
    camp = ProgrammeFactory(community=community, title="暑期小荷课堂", kind=ProgrammeKind.HOLIDAY_CAMP)
    after_school = ProgrammeFactory(title="四点半课堂", kind=ProgrammeKind.AFTER_SCHOOL,
                                    starts_on=date.today() + timedelta(days=60),
                                    ends_on=date.today() + timedelta(days=90))

    by_community = text(client.get(f"/programmes/?community_id={community.id}"))
    assert camp.title in by_community and after_school.title not in by_community

    by_kind = text(client.get("/programmes/?kind=after_school"))
    assert after_school.title in by_kind and camp.title not in by_kind

    on_day = (date.today() + timedelta(days=70)).isoformat()
    by_date = text(client.get(f"/programmes/?on_date={on_day}"))
    assert after_school.title in by_date and camp.title not in by_date


def test_fits_my_child_keeps_programmes_for_the_childs_age_on_the_first_day_and_grade(client, login_as):
    guardian = UserFactory()
    first_day = date.today() + timedelta(days=30)
    child = ChildFactory(guardian=guardian, grade=2, birth_date=first_day.replace(year=first_day.year - 7))
    fits = ProgrammeFactory(title="幼小识字", starts_on=first_day, min_age=6, max_age=8)
    too_old = ProgrammeFactory(title="初中数学", starts_on=first_day, min_age=12)
    wrong_grade = ProgrammeFactory(title="高年级阅读", starts_on=first_day, min_grade=4, max_grade=6)
    login_as(guardian)

    page = text(client.get(f"/programmes/?child_id={child.id}"))

    assert fits.title in page
    assert too_old.title not in page and wrong_grade.title not in page


def test_someone_elses_child_is_no_filter(client, login_as):
    guardian = UserFactory()
    stranger_child = ChildFactory(grade=9)
    programme = ProgrammeFactory(title="低年级托管", max_grade=2)
    login_as(guardian)

    page = text(client.get(f"/programmes/?child_id={stranger_child.id}"))

    assert programme.title in page
    assert stranger_child.name not in page


def queries_of(client, count_queries, url: str) -> int:
    """SQL statements one page view runs (after a first view, so that the login's own reads are the same)."""
    client.get(url)
    with count_queries() as n:
        response = client.get(url)
    assert response.status_code == 200
    return n()


def test_the_programme_list_costs_the_same_queries_for_2_or_20_programmes(client, login_as, count_queries):
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian)
    login_as(guardian)
    url = f"/programmes/?child_id={child.id}"

    def add(count: int) -> None:
        for _ in range(count):
            EnrolmentFactory(programme=programme_with_sessions(2), status=EnrolmentStatus.WAITLISTED)

    add(2)
    small = queries_of(client, count_queries, url)
    add(18)
    large = queries_of(client, count_queries, url)

    assert text(client.get(url)).count('data-testid="programme"') == 20
    assert small == large <= 12


# ---- the programme page --------------------------------------------------------------------------------------------


def test_the_programme_page_shows_schedule_venue_fee_themes_and_seats_to_anyone(client):
    programme = programme_with_sessions(3, title="七色花成长营地", capacity=2, fee_cents=1500,
                                        themes="红色传承,安全教育,阅读分享")
    EnrolmentFactory(programme=programme)
    EnrolmentFactory(programme=programme, status=EnrolmentStatus.PENDING)
    EnrolmentFactory(programme=programme, status=EnrolmentStatus.WAITLISTED)

    page = text(client.get(f"/programmes/{programme.id}"))

    assert programme.venue.name in page
    assert "¥15" in page
    assert "安全教育" in page
    assert "Full" in page and "1 waiting" in page
    assert page.count('<li') >= 3
    assert "Log in to sign up your child." in page


def test_the_programme_page_tells_parents_on_which_days_the_class_meets(client):
    club = programme_with_sessions(1, kind=ProgrammeKind.AFTER_SCHOOL, weekdays="1,2,3,4,5")
    camp = programme_with_sessions(1, weekdays="1,2,3,4,5,6,7", excluded_dates=["2027-02-10"])

    club_page = text(client.get(f"/programmes/{club.id}"))
    camp_page = text(client.get(f"/programmes/{camp.id}"))

    assert "Monday to Friday" in club_page and "school days only, no class on public holidays" in club_page
    assert "Every day" in camp_page and "public holidays" not in camp_page
    assert "Dates without a session" in camp_page and "Feb 10, 2027" in camp_page


def test_an_unpublished_programme_is_not_found(client):
    programme = ProgrammeFactory(published=False)
    assert client.get(f"/programmes/{programme.id}").status_code == 404


def test_a_guardian_sees_a_form_with_their_own_children_only(client, login_as):
    guardian = UserFactory()
    mine = ChildFactory(guardian=guardian, name="王小红")
    theirs = ChildFactory(name="李小刚")
    programme = programme_with_sessions(2)
    login_as(guardian)

    page = text(client.get(f"/programmes/{programme.id}"))

    assert f'action="/programmes/{programme.id}/enrol"' in page
    assert mine.name in page and theirs.name not in page
    assert "All of them or none" not in page  # one child: nothing to choose between


def test_no_childs_box_is_required_so_a_parent_of_two_may_tick_one(client, login_as):
    guardian = UserFactory()
    ChildFactory(guardian=guardian, name="林小北")
    ChildFactory(guardian=guardian, name="林小南")
    programme = programme_with_sessions(2)
    login_as(guardian)

    boxes = re.findall(r'<input[^>]*name="child_ids"[^>]*>', text(client.get(f"/programmes/{programme.id}")))

    assert len(boxes) == 2 and not any("required" in box for box in boxes)


def test_the_form_offers_only_the_children_who_have_no_place_here_yet(client, login_as):
    guardian = UserFactory()
    sisters = [ChildFactory(guardian=guardian, name=name) for name in ("王小红", "王小兰", "王小青")]
    programme = programme_with_sessions(2)
    EnrolmentFactory(programme=programme, child=sisters[0])
    login_as(guardian)

    page = text(client.get(f"/programmes/{programme.id}"))
    form = page[page.index('class="enrol-form"'):]
    assert "王小红" not in form and "王小兰" in form and "王小青" in form
    assert "All of them or none" in form

    for sister in sisters[1:]:
        EnrolmentFactory(programme=programme, child=fresh(sister), status=EnrolmentStatus.WAITLISTED)
    page = text(client.get(f"/programmes/{programme.id}"))
    assert 'class="enrol-form"' not in page
    assert 'data-testid="all-placed"' in page


def test_before_registration_opens_the_page_says_when_and_holds_the_button_until_then(client, login_as):
    guardian = UserFactory()
    ChildFactory(guardian=guardian, name="王小红")
    opens = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=3)
    programme = programme_with_sessions(2, registration_opens_at=opens)
    login_as(guardian)

    page = text(client.get(f"/programmes/{programme.id}"))

    assert "Registration opens at" in page
    assert f'data-opens-at="{int(opens.timestamp() * 1000)}"' in page
    served_at = int(re.search(r'data-served-at="(\d+)"', page).group(1)) / 1000
    assert abs(served_at - datetime.now(UTC).timestamp()) < 60
    # The form is there (a page without the script still sends it, and the server refuses it), its button marked
    # to wait for the opening.
    assert f'action="/programmes/{programme.id}/enrol"' in page
    assert "data-waits-for-opening" in page


@pytest.mark.parametrize(("change", "told"), [
    ({"registration_closes_at": datetime.now(UTC) - timedelta(minutes=1)},
     "Registration for this programme has closed."),
    ({"registration_closes_at": None, "starts_on": date.today() - timedelta(days=20),
      "ends_on": date.today() - timedelta(days=2)}, "This programme has already ended."),
])
def test_after_registration_closes_the_page_says_so_and_offers_no_form(client, login_as, change, told):
    guardian = UserFactory()
    ChildFactory(guardian=guardian)
    programme = programme_with_sessions(2, **change)
    login_as(guardian)

    page = text(client.get(f"/programmes/{programme.id}"))

    assert told in page
    assert "/enrol\"" not in page and "data-waits-for-opening" not in page


def test_an_open_programme_holds_no_button(client, login_as):
    guardian = UserFactory()
    ChildFactory(guardian=guardian)
    programme = programme_with_sessions(2)
    login_as(guardian)

    page = text(client.get(f"/programmes/{programme.id}"))

    assert f'action="/programmes/{programme.id}/enrol"' in page
    assert "data-opens-at" not in page and "data-waits-for-opening" not in page


def test_day_mode_lists_each_session_with_its_seats_left(client, login_as):
    guardian = UserFactory()
    ChildFactory(guardian=guardian)
    programme = ProgrammeFactory(mode=EnrolmentMode.DAY, capacity=5)
    first, second = add_sessions(programme, 2)
    EnrolmentFactory(programme=programme, session=first)
    login_as(guardian)

    page = text(client.get(f"/programmes/{programme.id}"))

    assert f'name="session_ids" type="checkbox" value="{first.id}"' in page
    assert "4 seats left" in page and "5 seats left" in page


@pytest.mark.parametrize("mode", [EnrolmentMode.WHOLE, EnrolmentMode.DAY])
def test_the_programme_page_costs_the_same_queries_however_many_sessions_and_children(
        client, login_as, count_queries, mode):
    guardian = UserFactory()
    kids = [ChildFactory(guardian=guardian)]
    programme = ProgrammeFactory(mode=mode, ends_on=date.today() + timedelta(days=60))
    sessions = add_sessions(programme, 2)
    EnrolmentFactory(programme=programme, session=sessions[0] if mode == EnrolmentMode.DAY else None, child=kids[0])
    login_as(guardian)
    url = f"/programmes/{programme.id}"
    small = queries_of(client, count_queries, url)

    guardian, programme = fresh(guardian), fresh(programme)
    kids = [fresh(kids[0])] + [ChildFactory(guardian=guardian) for _ in range(3)]
    more = add_sessions(programme, 20, skip_days=2)
    for kid, session in zip(kids[1:], more, strict=False):
        EnrolmentFactory(programme=programme, session=session if mode == EnrolmentMode.DAY else None, child=kid)
    db.session.expire_all()
    large = queries_of(client, count_queries, url)

    assert small == large <= 12


# ---- enrolling -----------------------------------------------------------------------------------------------------


def test_a_guardian_enrols_a_child_and_sees_it_confirmed(client, login_as, post_form):
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian, name="王小红")
    programme = programme_with_sessions(2, capacity=3)
    login_as(guardian)

    response = post_form(f"/programmes/{programme.id}/enrol", {"child_ids": [child.id]},
                         token_from=f"/programmes/{programme.id}", follow_redirects=True)

    assert response.request.path == "/enrolments/"
    assert "王小红 is enrolled." in text(response)
    assert [e.status for e in enrolments_of(child)] == [EnrolmentStatus.CONFIRMED]


def test_the_last_seat_taken_the_next_child_is_told_its_waiting_position(client, login_as, post_form):
    programme = programme_with_sessions(2, capacity=1)
    EnrolmentFactory(programme=programme)
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian, name="赵小乐")
    login_as(guardian)

    response = post_form(f"/programmes/{programme.id}/enrol", {"child_ids": [child.id]},
                         token_from=f"/programmes/{programme.id}", follow_redirects=True)

    assert "赵小乐 is on the waiting list at position 1." in text(response)
    assert 'data-testid="position">Position 1 on the waiting list' in text(response)


def test_all_or_none_puts_nobody_in_when_there_are_not_seats_for_every_child(client, login_as, post_form):
    programme = programme_with_sessions(2, capacity=1)
    guardian = UserFactory()
    twins = [ChildFactory(guardian=guardian), ChildFactory(guardian=guardian)]
    login_as(guardian)

    post_form(f"/programmes/{programme.id}/enrol", {"child_ids": [c.id for c in twins], "all_or_none": "y"},
              token_from=f"/programmes/{programme.id}")

    assert [e.status for c in twins for e in enrolments_of(c)] == [EnrolmentStatus.WAITLISTED] * 2


def test_enrolling_nobody_is_refused_on_the_form(client, login_as, post_form):
    guardian = UserFactory()
    ChildFactory(guardian=guardian)
    programme = programme_with_sessions(1)
    login_as(guardian)

    response = post_form(f"/programmes/{programme.id}/enrol", {}, token_from=f"/programmes/{programme.id}")

    assert response.status_code == 200
    assert "Choose at least one child." in text(response)


def test_a_child_out_of_the_age_range_is_refused_on_the_form(client, login_as, post_form):
    guardian = UserFactory()
    first_day = date.today() + timedelta(days=30)
    child = ChildFactory(guardian=guardian, name="小宝", birth_date=first_day.replace(year=first_day.year - 4))
    programme = programme_with_sessions(1, starts_on=first_day, min_age=6)
    login_as(guardian)

    response = post_form(f"/programmes/{programme.id}/enrol", {"child_ids": [child.id]},
                         token_from=f"/programmes/{programme.id}")

    assert response.status_code == 200
    assert "too young" in text(response)
    assert enrolments_of(child) == []


def test_someone_elses_child_cannot_be_enrolled(client, login_as, post_form):
    guardian = UserFactory()
    ChildFactory(guardian=guardian)
    stranger = ChildFactory()
    programme = programme_with_sessions(1)
    login_as(guardian)

    response = post_form(f"/programmes/{programme.id}/enrol", {"child_ids": [stranger.id]},
                         token_from=f"/programmes/{programme.id}")

    assert response.status_code == 200
    assert enrolments_of(stranger) == []


def test_day_mode_enrols_in_the_sessions_ticked(client, login_as, post_form):
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian)
    programme = ProgrammeFactory(mode=EnrolmentMode.DAY, capacity=5)
    first, _second, third = add_sessions(programme, 3)
    login_as(guardian)

    post_form(f"/programmes/{programme.id}/enrol", {"child_ids": [child.id], "session_ids": [first.id, third.id]},
              token_from=f"/programmes/{programme.id}")

    assert sorted(e.session_id for e in enrolments_of(child)) == [first.id, third.id]


def test_enrolling_needs_a_login(client, post_form):
    programme = programme_with_sessions(1)
    response = post_form(f"/programmes/{programme.id}/enrol", {"child_ids": ["1"]},
                         token_from=f"/programmes/{programme.id}")
    assert response.status_code == 401


# ---- my enrolments: cancel, accept, decline ------------------------------------------------------------------------


def test_my_enrolments_show_status_titles_and_an_offer_with_its_expiry(client, login_as):
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian, name="王小红")
    EnrolmentFactory(child=child, status=EnrolmentStatus.OFFERED)
    EnrolmentFactory(child=child, status=EnrolmentStatus.CANCELLED)
    EnrolmentFactory(status=EnrolmentStatus.CONFIRMED)  # someone else's
    login_as(guardian)

    page = text(client.get("/enrolments/"))

    assert "Seat offered" in page and "Cancelled" in page
    assert "Please answer by" in page
    assert "Accept the seat" in page and "Decline" in page
    assert page.count('data-testid="enrolment"') == 1


def test_a_guardian_cancels_and_the_next_family_is_offered_the_seat(client, login_as, post_form):
    programme = programme_with_sessions(2, capacity=1, promotion=Promotion.OFFER)
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian)
    mine = EnrolmentFactory(programme=programme, child=child)
    other_parent = UserFactory()
    waiting = EnrolmentFactory(programme=programme, child=ChildFactory(guardian=other_parent),
                               status=EnrolmentStatus.WAITLISTED)
    login_as(guardian)

    response = post_form(f"/enrolments/{mine.id}/cancel", {"reason": "搬家了"}, token_from="/enrolments/",
                         follow_redirects=True)

    assert "The enrolment has been cancelled." in text(response)
    mine = fresh(mine)
    waiting = fresh(waiting)
    assert mine.status == EnrolmentStatus.CANCELLED and mine.end_reason == "搬家了"
    assert waiting.status == EnrolmentStatus.OFFERED
    assert db.session.scalar(sa.select(Notification).where(Notification.user_id == other_parent.id,
                                                           Notification.kind == "enrolment.offered"))


def test_accepting_an_offer_confirms_the_seat(client, login_as, post_form):
    guardian = UserFactory()
    offer = EnrolmentFactory(child=ChildFactory(guardian=guardian), status=EnrolmentStatus.OFFERED)
    login_as(guardian)

    response = post_form(f"/enrolments/{offer.id}/accept", {}, token_from="/enrolments/", follow_redirects=True)

    assert "You accepted the seat" in text(response)
    offer = fresh(offer)
    assert offer.status == EnrolmentStatus.CONFIRMED


def test_declining_an_offer_ends_it(client, login_as, post_form):
    guardian = UserFactory()
    offer = EnrolmentFactory(child=ChildFactory(guardian=guardian), status=EnrolmentStatus.OFFERED)
    login_as(guardian)

    post_form(f"/enrolments/{offer.id}/decline", {}, token_from="/enrolments/")

    offer = fresh(offer)
    assert offer.status == EnrolmentStatus.DECLINED


def test_accepting_an_expired_offer_says_so(client, login_as, post_form):
    guardian = UserFactory()
    offer = EnrolmentFactory(child=ChildFactory(guardian=guardian), status=EnrolmentStatus.OFFERED,
                             offer_expires_at=datetime.now(UTC) - timedelta(minutes=1))
    login_as(guardian)

    response = post_form(f"/enrolments/{offer.id}/accept", {}, token_from="/enrolments/", follow_redirects=True)

    assert "this offer has expired" in text(response)


def test_someone_elses_enrolment_cannot_be_cancelled(client, login_as, post_form):
    theirs = EnrolmentFactory()
    login_as(UserFactory())

    response = post_form(f"/enrolments/{theirs.id}/cancel", {}, token_from="/enrolments/")

    assert response.status_code == 404
    theirs = fresh(theirs)
    assert theirs.status == EnrolmentStatus.CONFIRMED


# ---- my schedule, leave and the calendar feed ----------------------------------------------------------------------


def test_my_schedule_lists_my_childrens_sessions_with_a_leave_form_and_a_private_feed(client, login_as):
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian, name="王小红")
    programme = programme_with_sessions(3, title="小荷课堂", starts_on=date.today() + timedelta(days=2))
    EnrolmentFactory(programme=programme, child=child)
    login_as(guardian)

    page = text(client.get("/schedule/"))

    assert page.count('data-testid="session"') == 3
    assert "Request leave for 王小红" in page
    guardian = fresh(guardian)
    assert guardian.calendar_token and len(guardian.calendar_token) >= 40
    assert f"/schedule/{guardian.calendar_token}.ics" in page


def test_a_guardian_requests_and_withdraws_leave(client, login_as, post_form):
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian)
    programme = programme_with_sessions(2, starts_on=date.today() + timedelta(days=2))
    EnrolmentFactory(programme=programme, child=child)
    session = programme.sessions[0]
    login_as(guardian)

    response = post_form("/leave", {"child_id": child.id, "session_id": session.id, "reason": "感冒"},
                         token_from="/schedule/", follow_redirects=True)

    assert "Leave has been requested." in text(response)
    leave = db.session.scalar(sa.select(Leave).where(Leave.child_id == child.id))
    assert leave.session_id == session.id and leave.reason == "感冒"
    assert 'data-testid="leave"' in text(response)

    post_form(f"/leave/{leave.id}/cancel", {}, token_from="/schedule/")
    leave = fresh(leave)
    assert leave.cancelled_at is not None


def test_leave_for_a_session_without_a_seat_is_refused(client, login_as, post_form):
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian)
    programme = programme_with_sessions(1, starts_on=date.today() + timedelta(days=2))
    session_id = programme.sessions[0].id
    login_as(guardian)

    response = post_form("/leave", {"child_id": child.id, "session_id": session_id},
                         token_from="/schedule/", follow_redirects=True)

    assert "has no seat" in text(response)


def test_my_schedule_costs_the_same_queries_however_many_sessions_and_children(client, login_as, count_queries):
    guardian = UserFactory(calendar_token="schedule-budget-token")
    kids = [ChildFactory(guardian=guardian)]
    login_as(guardian)

    def add_programme(index: int) -> None:
        start = local_today() + timedelta(days=2 + index)  # every session inside the two weeks shown
        programme = programme_with_sessions(5, starts_on=start, ends_on=start + timedelta(days=5))
        for kid in kids:
            EnrolmentFactory(programme=programme, child=kid)
        LeaveFactory(child=kids[0], session=programme.sessions[0])

    add_programme(0)
    small = queries_of(client, count_queries, "/schedule/")
    guardian = fresh(guardian)
    kids[:] = [fresh(kids[0])] + [ChildFactory(guardian=guardian) for _ in range(2)]
    for index in range(1, 5):
        add_programme(index)
    db.session.expire_all()
    large = queries_of(client, count_queries, "/schedule/")

    page = text(client.get("/schedule/"))
    assert page.count('data-testid="session"') == 5 + 4 * 5
    assert page.count('data-testid="attendee"') == 5 + 4 * 3 * 5
    assert small == large <= 9


def test_my_schedule_shows_two_weeks_at_a_time_and_leads_to_the_next(client, login_as):
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian, name="王小红")
    soon = programme_with_sessions(1, title="四点半课堂", starts_on=local_today() + timedelta(days=3))
    later = programme_with_sessions(1, title="寒假营", starts_on=local_today() + timedelta(days=20))
    for programme in (soon, later):
        EnrolmentFactory(programme=programme, child=child)
    login_as(guardian)

    page = text(client.get("/schedule/"))
    assert "四点半课堂" in page and "寒假营" not in page
    assert 'data-testid="earlier"' not in page
    next_weeks = re.search(r'data-testid="later" href="([^"]+)"', page).group(1)
    assert next_weeks == f"/schedule/?from={(local_today() + timedelta(days=20)).isoformat()}"

    page = text(client.get(next_weeks))
    assert "寒假营" in page and "四点半课堂" not in page
    assert 'data-testid="later"' not in page
    earlier = re.search(r'data-testid="earlier" href="([^"]+)"', page).group(1)
    assert "四点半课堂" in text(client.get(earlier))


def test_an_empty_fortnight_points_to_the_next_session(client, login_as):
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian)
    camp = programme_with_sessions(2, title="暑期营", starts_on=local_today() + timedelta(days=60))
    EnrolmentFactory(programme=camp, child=child)
    login_as(guardian)

    page = text(client.get("/schedule/"))

    assert "No sessions in these two weeks." in page and "暑期营" not in page
    link = re.search(r'data-testid="next-session" href="([^"]+)"', page).group(1)
    assert link.endswith(f"from={(local_today() + timedelta(days=60)).isoformat()}")
    page = text(client.get(link))
    assert page.count('data-testid="session"') == 2
    assert 'data-testid="earlier"' not in page  # nothing comes before the camp


def test_siblings_in_one_session_share_a_card_with_a_leave_each(client, login_as):
    guardian = UserFactory()
    sisters = [ChildFactory(guardian=guardian, name=name) for name in ("王小红", "王小兰")]
    programme = programme_with_sessions(1, starts_on=local_today() + timedelta(days=2))
    session_id = programme.sessions[0].id
    for child in sisters:
        EnrolmentFactory(programme=programme, child=child)
    login_as(guardian)

    page = text(client.get("/schedule/"))

    assert page.count('data-testid="session"') == 1
    assert page.count(f'id="session-{session_id}"') == 1
    assert page.count('data-testid="attendee"') == 2
    assert "Request leave for 王小红" in page and "Request leave for 王小兰" in page


@pytest.mark.parametrize("asked", ["not-a-date", "2026-02-30", "1999-01-01", "9999-12-31", ""])
def test_a_bad_or_far_date_in_the_schedule_link_still_shows_a_schedule(client, login_as, asked):
    guardian = UserFactory()
    EnrolmentFactory(programme=programme_with_sessions(1, starts_on=local_today() + timedelta(days=2)),
                     child=ChildFactory(guardian=guardian))
    login_as(guardian)

    response = client.get("/schedule/", query_string={"from": asked})

    assert response.status_code == 200
    assert 'data-testid="schedule-range"' in text(response)


def test_leave_asked_in_a_later_fortnight_comes_back_to_it(client, login_as, post_form):
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian)
    programme = programme_with_sessions(1, starts_on=local_today() + timedelta(days=30))
    EnrolmentFactory(programme=programme, child=child)
    session = programme.sessions[0]
    login_as(guardian)
    window = session.on_date.isoformat()

    response = post_form("/leave", {"child_id": child.id, "session_id": session.id, "reason": "回老家",
                                    "from": window}, token_from=f"/schedule/?from={window}")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/schedule/?from={window}#session-{session.id}"
    assert 'data-testid="leave"' in text(client.get(response.headers["Location"]))


def test_in_wechat_the_schedule_says_how_to_subscribe_from_the_phones_browser(client, login_as):
    login_as(UserFactory())
    wechat = ("Mozilla/5.0 (Linux; Android 14; V2309A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0 "
              "Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20240404 MicroMessenger/8.0.49.2600(0x28003133) WeChat/arm64")

    assert 'data-testid="wechat-hint"' in text(client.get("/schedule/", headers={"User-Agent": wechat}))
    assert 'data-testid="wechat-hint"' not in text(client.get("/schedule/"))


def test_the_calendar_feed_is_public_by_its_secret_token_and_marks_leave(client, login_as):
    guardian = UserFactory()
    guardian.calendar_token = "secret-token-for-tests-0123456789abcdefghijk"
    db.session.commit()
    child = ChildFactory(guardian=guardian, name="王小红")
    programme = programme_with_sessions(2, title="小荷课堂", starts_on=date.today() + timedelta(days=2))
    EnrolmentFactory(programme=programme, child=child)
    LeaveFactory(child=child, session=programme.sessions[0])

    response = client.get(f"/schedule/{guardian.calendar_token}.ics")

    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    events = Calendar.from_ical(response.data).walk("VEVENT")
    assert len(events) == 2
    assert all("王小红" in str(e["summary"]) and "小荷课堂" in str(e["summary"]) for e in events)
    assert sorted(str(e["status"]) for e in events) == ["CANCELLED", "CONFIRMED"]
    assert client.get("/schedule/not-a-token.ics").status_code == 404


# ---- coordinators --------------------------------------------------------------------------------------------------


def coordinator_with_programme(**kwargs):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    programme = programme_with_sessions(2, community=community, **kwargs)
    return coordinator, programme


def test_the_coordinator_sees_whom_to_call_for_each_child_in_the_same_few_queries(client, login_as, count_queries):
    coordinator, programme = coordinator_with_programme(capacity=1)
    mother = UserFactory(name="王芳", phone="+8613900001111")
    EnrolmentFactory(programme=programme, child=ChildFactory(name="甲", guardian=mother))
    login_as(coordinator)
    url = f"/manage/programmes/{programme.id}/enrolments"

    page = text(client.get(url))
    assert 'data-testid="guardian"' in page and "王芳 (妈妈)" in page
    assert 'href="tel:+8613900001111"' in page and "139****1111" in page
    few = queries_of(client, count_queries, url)

    for index in range(5):
        EnrolmentFactory(programme=programme, child=ChildFactory(name=f"乙{index}", guardian=UserFactory()),
                         status=EnrolmentStatus.WAITLISTED)
    db.session.expire_all()
    assert queries_of(client, count_queries, url) == few


def test_the_coordinator_downloads_the_list_as_a_spreadsheet_excel_opens_in_chinese(client, login_as):
    import csv
    import io

    coordinator, programme = coordinator_with_programme(capacity=1)
    mother = UserFactory(name="王芳", phone="+8613900001111")
    EnrolmentFactory(programme=programme, child=ChildFactory(name="甲", guardian=mother, grade=3,
                                                             medical_notes="哮喘"))
    EnrolmentFactory(programme=programme, child=ChildFactory(name="=HYPERLINK(\"http://x\")"),
                     status=EnrolmentStatus.WAITLISTED)
    EnrolmentFactory(programme=programme, child=ChildFactory(name="丁"), status=EnrolmentStatus.CANCELLED)
    login_as(coordinator)
    client.set_cookie("lang", "zh_CN")
    page = text(client.get(f"/manage/programmes/{programme.id}/enrolments"))
    link = re.search(r'data-testid="export" href="([^"]+)"', page).group(1).replace("&amp;", "&")

    response = client.get(link)

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert header[:3] == ["孩子", "年级", "学校"] and "电话" in header
    assert [row[0] for row in rows] == ["甲", "'=HYPERLINK(\"http://x\")"]  # live ones only, as the page shows
    first = dict(zip(header, rows[0], strict=True))
    assert first["电话"] == "13900001111" and "王芳 (妈妈)" in first["家长"] and first["年级"] == "三年级"
    assert dict(zip(header, rows[1], strict=True))["候补位次"] == "1"
    assert "哮喘" not in body  # nothing medical leaves in a spreadsheet
    everything = client.get(f"/manage/programmes/{programme.id}/enrolments.csv?status=all").get_data(as_text=True)
    assert "丁" in everything


def test_only_the_communitys_coordinator_may_download_the_list(client, login_as):
    _coordinator, programme = coordinator_with_programme()
    EnrolmentFactory(programme=programme, child=ChildFactory(name="甲"))
    url = f"/manage/programmes/{programme.id}/enrolments.csv"

    login_as(CoordinatorFactory(community=CommunityFactory()))
    assert client.get(url).status_code == 404
    login_as(UserFactory())
    assert client.get(url).status_code == 403


def test_a_family_says_it_belongs_to_a_priority_group_and_the_coordinator_corrects_it(client, login_as, post_form):
    coordinator, programme = coordinator_with_programme(capacity=1)
    residents = PriorityGroupFactory(programme=programme, rank=1, name="本社区双职工家庭")
    PriorityGroupFactory(programme=programme, rank=2, name="本社区其他家庭")
    EnrolmentFactory(programme=programme, child=ChildFactory(name="甲"))
    EnrolmentFactory(programme=programme, child=ChildFactory(name="乙"), status=EnrolmentStatus.WAITLISTED)
    guardian = UserFactory()
    child = ChildFactory(guardian=guardian, name="丙")
    login_as(guardian)
    page = text(client.get(f"/programmes/{programme.id}"))
    assert "Does your family belong to one of these groups?" in page
    assert re.findall(r'name="priority_group_id" type="radio" value="(\d*)"', page)[:1] == [""]  # none, first

    response = post_form(f"/programmes/{programme.id}/enrol",
                         {"child_ids": [str(child.id)], "priority_group_id": str(residents.id)},
                         token_from=f"/programmes/{programme.id}", follow_redirects=True)

    assert "position 1" in text(response)  # ahead of 乙, who came earlier without a group
    (mine,) = enrolments_of(child)
    login_as(coordinator)
    url = f"/manage/programmes/{programme.id}/enrolments"
    managed = text(client.get(url))
    assert 'data-testid="priority-group">本社区双职工家庭' in managed
    spreadsheet = text(client.get(f"/manage/programmes/{programme.id}/enrolments.csv"))
    assert "Priority group" in spreadsheet.splitlines()[0]
    assert [line for line in spreadsheet.splitlines() if line.startswith("丙,")][0].count("本社区双职工家庭") == 1
    post_form(f"{url}/{mine.id}/priority", {"priority_group_id": ""}, token_from=url)
    assert re.findall(r'data-testid="position">Position (\d)', text(client.get(url))) == ["1", "2"]
    assert fresh(mine).priority_group_id is None
    assert 'data-testid="priority-group"' not in text(client.get(url))


def test_a_programme_without_priority_groups_asks_nothing_about_them(client, login_as):
    guardian = UserFactory()
    ChildFactory(guardian=guardian)
    programme = programme_with_sessions(1)
    login_as(guardian)
    assert "priority_group_id" not in text(client.get(f"/programmes/{programme.id}"))


def test_the_coordinator_prints_a_sign_up_poster_whose_code_opens_the_programme_page(client, login_as):
    coordinator, programme = coordinator_with_programme(capacity=15, title="荷叶娃娃暑期公益课堂", fee_cents=0,
                                                        weekdays="1,2,3,4,5", needs_approval=True)
    login_as(coordinator)
    client.set_cookie("lang", "zh_CN")
    page = text(client.get(f"/manage/programmes/{programme.id}"))
    poster_url = re.search(r'data-testid="poster" href="([^"]+)"', page).group(1)

    poster = text(client.get(poster_url))

    public_url = f"http://localhost/programmes/{programme.id}"
    assert f'data-testid="poster-url">{public_url}<' in poster
    assert qr_svg(public_url) in poster  # the code on the poster is the page's own address
    assert "荷叶娃娃暑期公益课堂" in poster and programme.community.name in poster
    assert "15个名额" in poster and "先报先得，额满即止" in poster and "报名需经社区工作者审核" in poster
    assert "扫码报名" in poster and "星期一至星期五" in poster and "免费" in poster
    assert 'data-testid="not-published"' not in poster


def test_a_poster_of_a_draw_says_that_every_application_in_the_window_counts_the_same(client, login_as):
    coordinator, programme = coordinator_with_programme(allocation=Allocation.DRAW, mode=EnrolmentMode.DAY,
                                                        capacity=8)
    login_as(coordinator)

    poster = text(client.get(f"/manage/programmes/{programme.id}/poster"))

    assert "8 seats in each session" in poster
    assert "every application in the window has the same chance; a public draw at its close" in poster
    assert "first come" not in poster


def test_a_poster_of_a_programme_parents_cannot_see_yet_warns_the_coordinator(client, login_as):
    coordinator, programme = coordinator_with_programme(published=False)
    login_as(coordinator)

    poster = text(client.get(f"/manage/programmes/{programme.id}/poster"))

    assert 'data-testid="not-published"' in poster and "Show to parents" in poster
    assert f'href="/manage/programmes/{programme.id}/edit"' in poster


def test_only_the_communitys_coordinators_make_its_posters(client, login_as):
    _coordinator, programme = coordinator_with_programme()
    url = f"/manage/programmes/{programme.id}/poster"

    assert client.get(url).status_code == 302  # to the login page
    login_as(CoordinatorFactory(community=CommunityFactory()))
    assert client.get(url).status_code == 404
    login_as(UserFactory())
    assert client.get(url).status_code == 403


def test_the_coordinator_sees_every_enrolment_with_waiting_positions(client, login_as):
    coordinator, programme = coordinator_with_programme(capacity=1)
    EnrolmentFactory(programme=programme, child=ChildFactory(name="甲"))
    EnrolmentFactory(programme=programme, child=ChildFactory(name="乙"), status=EnrolmentStatus.WAITLISTED)
    EnrolmentFactory(programme=programme, child=ChildFactory(name="丙"), status=EnrolmentStatus.WAITLISTED)
    EnrolmentFactory(programme=programme, child=ChildFactory(name="丁"), status=EnrolmentStatus.CANCELLED)
    login_as(coordinator)

    page = text(client.get(f"/manage/programmes/{programme.id}/enrolments"))
    assert page.count('data-testid="enrolment-row"') == 3
    assert re.findall(r'data-testid="position">Position (\d)', page) == ["1", "2"]
    assert "丁" not in page

    everything = text(client.get(f"/manage/programmes/{programme.id}/enrolments?status=all"))
    assert everything.count('data-testid="enrolment-row"') == 4
    cancelled = text(client.get(f"/manage/programmes/{programme.id}/enrolments?status=cancelled"))
    assert cancelled.count('data-testid="enrolment-row"') == 1 and "丁" in cancelled


def test_another_communitys_coordinator_and_a_guardian_cannot_manage(client, login_as):
    _coordinator, programme = coordinator_with_programme()
    login_as(CoordinatorFactory())
    assert client.get(f"/manage/programmes/{programme.id}/enrolments").status_code == 404
    login_as(UserFactory())
    assert client.get(f"/manage/programmes/{programme.id}/enrolments").status_code == 403


def test_the_coordinator_removes_with_a_reason_and_the_waiting_child_moves_up(client, login_as, post_form):
    coordinator, programme = coordinator_with_programme(capacity=1)
    seated = EnrolmentFactory(programme=programme)
    waiting = EnrolmentFactory(programme=programme, status=EnrolmentStatus.WAITLISTED)
    login_as(coordinator)
    url = f"/manage/programmes/{programme.id}/enrolments"

    refused = post_form(f"{url}/{seated.id}/remove", {"reason": ""}, token_from=url)
    assert refused.status_code == 200 and "This field is required." in text(refused)

    response = post_form(f"{url}/{seated.id}/remove", {"reason": "长期未到"}, token_from=url, follow_redirects=True)
    assert "removed from the programme" in text(response)
    seated = fresh(seated)
    waiting = fresh(waiting)
    assert seated.status == EnrolmentStatus.REMOVED and seated.end_reason == "长期未到"
    assert waiting.status == EnrolmentStatus.CONFIRMED


def test_the_coordinator_approves_a_pending_enrolment(client, login_as, post_form):
    coordinator, programme = coordinator_with_programme(needs_approval=True)
    pending = EnrolmentFactory(programme=programme, status=EnrolmentStatus.PENDING)
    login_as(coordinator)
    url = f"/manage/programmes/{programme.id}/enrolments"

    page = text(client.get(url))
    assert f'action="{url}/{pending.id}/approve"' in page
    post_form(f"{url}/{pending.id}/approve", {}, token_from=url)

    pending = fresh(pending)
    assert pending.status == EnrolmentStatus.CONFIRMED


def test_the_coordinator_changes_capacity_but_not_below_the_seats_taken(client, login_as, post_form):
    coordinator, programme = coordinator_with_programme(capacity=3)
    EnrolmentFactory(programme=programme)
    EnrolmentFactory(programme=programme)
    login_as(coordinator)
    url = f"/manage/programmes/{programme.id}/enrolments"

    refused = post_form(f"/manage/programmes/{programme.id}/capacity", {"capacity": 1}, token_from=url)
    assert refused.status_code == 200 and "cannot be lower than the 2 seats" in text(refused)

    post_form(f"/manage/programmes/{programme.id}/capacity", {"capacity": 8}, token_from=url)
    programme = fresh(programme)
    assert programme.capacity == 8


def test_the_draw_is_run_by_the_coordinator_and_published_with_its_seed(client, login_as, post_form):
    coordinator, programme = coordinator_with_programme(capacity=1, allocation=Allocation.DRAW)
    for name in ("张小一", "李小二", "王小三"):
        EnrolmentFactory(programme=programme, child=ChildFactory(name=name), status=EnrolmentStatus.WAITLISTED)
    login_as(coordinator)
    url = f"/manage/programmes/{programme.id}/enrolments"
    assert "Make the draw" in text(client.get(url))

    response = post_form(f"/manage/programmes/{programme.id}/draw", {"seed": "20260701"}, token_from=url,
                         follow_redirects=True)

    assert response.request.path == f"/programmes/{programme.id}/draw"
    page = text(response)
    assert 'data-testid="seed">20260701' in page
    assert page.count('data-testid="draw-rank"') == 3
    assert "张小一" not in page and "张**" in page
    statuses = sorted(e.status for e in db.session.scalars(
        sa.select(Enrolment).where(Enrolment.programme_id == programme.id)
        .execution_options(populate_existing=True)))
    assert statuses.count(EnrolmentStatus.CONFIRMED) == 1


def test_before_the_draw_parents_see_the_seats_and_the_applications_and_are_told_not_to_hurry(client, login_as,
                                                                                              post_form):
    coordinator, programme = coordinator_with_programme(capacity=2, allocation=Allocation.DRAW)
    for name in ("张小一", "李小二", "王小三"):
        EnrolmentFactory(programme=programme, child=ChildFactory(name=name), status=EnrolmentStatus.WAITLISTED)

    page = text(client.get(f"/programmes/{programme.id}"))
    listed = text(client.get("/programmes/"))

    assert "2 seats · 3 applications so far" in page and "2 seats · 3 applications so far" in listed
    assert "seats left" not in page and "waiting" not in page
    assert "there is no need to hurry" in page

    login_as(coordinator)
    url = f"/manage/programmes/{programme.id}/enrolments"
    assert 'data-testid="position"' not in text(client.get(url))  # arrival decides nothing before the draw
    post_form(f"/manage/programmes/{programme.id}/draw", {"seed": "7"}, token_from=url)
    assert 'data-testid="position"' in text(client.get(url))
    login_as(UserFactory())
    drawn = text(client.get(f"/programmes/{programme.id}"))
    assert "Full · 1 waiting" in drawn and "no need to hurry" not in drawn
    waiting = db.session.scalars(sa.select(Enrolment).where(Enrolment.programme_id == programme.id,
                                                            Enrolment.status == EnrolmentStatus.WAITLISTED)).one()
    login_as(waiting.child.guardianships[0].user)
    mine = text(client.get("/enrolments/"))
    assert "Place 3 in the draw." in mine and f'href="/programmes/{programme.id}/draw"' in mine
    assert "Position 1 on the waiting list" in mine


def test_anyone_can_repeat_the_published_draw_from_its_seed_and_what_the_page_shows(client, login_as, post_form):
    import hashlib

    autumn = ProgrammeFactory(allocation=Allocation.DRAW, capacity=1)
    coordinator, programme = coordinator_with_programme(capacity=2, allocation=Allocation.DRAW,
                                                        previous_unsuccessful_first=True)
    programme.previous_programme_id = autumn.id
    working = PriorityGroupFactory(programme=programme, rank=1, name="本社区双职工家庭")
    missed = ChildFactory(name="赵小五")
    EnrolmentFactory(programme=autumn, child=missed, status=EnrolmentStatus.WAITLISTED, draw_rank=2)
    for index, name in enumerate(("张小一", "李小二", "王小三", "陈小四")):
        EnrolmentFactory(programme=programme, child=ChildFactory(name=name), status=EnrolmentStatus.WAITLISTED,
                         **({"priority_group_id": working.id, "priority": 1} if index == 3 else {}))
    EnrolmentFactory(programme=programme, child=missed, status=EnrolmentStatus.WAITLISTED)
    login_as(coordinator)
    url = f"/manage/programmes/{programme.id}/enrolments"
    post_form(f"/manage/programmes/{programme.id}/draw", {"seed": "公示2026"}, token_from=url)

    page = text(client.get(f"/programmes/{programme.id}/draw"))

    lines = re.findall(r'data-testid="draw-rank">(.*?)</li>', page, re.S)
    published = [int(re.search(r"application (\d+)", line).group(1)) for line in lines]
    seed = re.search(r'data-testid="seed">([^<]+)<', page).group(1)

    def place(line: str, number: int) -> tuple:  # what a parent reads off the page, and the seed's hash
        key = hashlib.sha256(f"{seed}:{number}".encode()).hexdigest()
        assert f'data-testid="draw-key">{key[:8]}<' in line
        return "本社区双职工家庭" not in line, "no seat last term" not in line, key

    assert published == sorted(published, key=lambda number: place(lines[published.index(number)], number))
    assert "陈" in lines[0] and "赵" in lines[1]  # the group first, then the child who missed out last term
    assert "How the order is made" in page and "Then children who applied for the previous term" in page


def test_nobody_but_the_communitys_coordinator_may_run_the_draw(client, login_as, post_form):
    _coordinator, programme = coordinator_with_programme(allocation=Allocation.DRAW)
    login_as(CoordinatorFactory())
    response = post_form(f"/manage/programmes/{programme.id}/draw", {}, token_from="/programmes/")
    assert response.status_code == 404
