"""Communities and programmes: anyone may read them; a coordinator creates and changes their community's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.factories import CommunityFactory, CoordinatorFactory, ProgrammeFactory, UserFactory


def camp_body(community_id: int, **overrides) -> dict:
    start = date.today() + timedelta(days=40)
    body = {"community_id": community_id, "kind": "holiday_camp", "title": "七色花成长营地", "capacity": 15,
            "mode": "whole", "starts_on": start.isoformat(), "ends_on": (start + timedelta(days=4)).isoformat(),
            "weekdays": [1, 2, 3, 4, 5, 6, 7], "start_time": "09:00", "end_time": "12:00",
            "registration_opens_at": "2026-01-01T08:00:00+08:00",
            "registration_closes_at": (start - timedelta(days=1)).isoformat() + "T20:00:00+08:00",
            "min_age": 6, "max_age": 12}
    return {**body, **overrides}


def test_anyone_lists_communities_with_street_and_district(api):
    community = CommunityFactory(name="杏北社区")
    response = api().get("/api/v1/communities")
    assert response.status_code == 200
    body = response.get_json()
    assert body["next"] is None
    item = next(i for i in body["items"] if i["id"] == community.id)
    assert item["name"] == "杏北社区"
    assert item["street"] == community.street.name and item["district"] == community.street.district.name


def test_anyone_lists_programmes_with_seats_and_filters(api):
    programme = ProgrammeFactory(capacity=12)
    other = ProgrammeFactory()
    response = api().get(f"/api/v1/programmes?community_id={programme.community_id}")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [i["id"] for i in items] == [programme.id]
    assert items[0]["seats_left"] == 12 and items[0]["waitlist_length"] == 0
    assert items[0]["start_time"] == "09:00"
    assert items[0]["registration_opens_at"].endswith("+08:00")
    ids = [i["id"] for i in api().get("/api/v1/programmes?open=true&kind=holiday_camp").get_json()["items"]]
    assert programme.id in ids and other.id in ids
    closed = api().get("/api/v1/programmes?open=false").get_json()["items"]
    assert programme.id not in [i["id"] for i in closed]


def test_each_programme_says_whether_it_takes_sign_ups_now(api):
    now = datetime.now(UTC)
    soon = ProgrammeFactory(registration_opens_at=now + timedelta(minutes=5))
    open_now = ProgrammeFactory()
    closed = ProgrammeFactory(registration_closes_at=now - timedelta(minutes=5))
    anyone = api()

    answered = {p["id"]: p["registration"] for p in anyone.get("/api/v1/programmes").get_json()["items"]}

    assert answered == {soon.id: "not_yet", open_now.id: "open", closed.id: "closed"}
    assert anyone.get(f"/api/v1/programmes/{soon.id}").get_json()["registration"] == "not_yet"


def test_a_bad_filter_is_422_with_the_field(api):
    response = api().get("/api/v1/programmes?kind=opera&community_id=abc")
    assert response.status_code == 422
    assert {e["field"] for e in response.get_json()["errors"]} == {"kind", "community_id"}


def test_a_coordinator_creates_a_programme_with_its_sessions(api):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    response = api(coordinator).post("/api/v1/programmes", camp_body(community.id))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["title"] == "七色花成长营地" and body["seats_left"] == 15
    assert len(body["sessions"]) == 5
    assert body["sessions"][0]["starts_at"].endswith("T09:00:00+08:00")
    assert api().get(f"/api/v1/programmes/{body['id']}").get_json()["id"] == body["id"]
    sessions = api().get(f"/api/v1/programmes/{body['id']}/sessions").get_json()["items"]
    assert len(sessions) == 5 and sessions[0]["seats_left"] is None


def test_a_new_term_names_the_one_before_for_its_draw(api):
    community = CommunityFactory()
    coordinator = api(CoordinatorFactory(community=community))
    summer = coordinator.post("/api/v1/programmes", camp_body(community.id)).get_json()
    assert (summer["previous_programme_id"], summer["previous_unsuccessful_first"]) == (None, False)

    winter = coordinator.post("/api/v1/programmes", camp_body(
        community.id, title="七色花成长营地（寒假）", allocation="draw", previous_programme_id=summer["id"],
        previous_unsuccessful_first=True))

    assert winter.status_code == 201, winter.get_json()
    assert (winter.get_json()["previous_programme_id"], winter.get_json()["previous_unsuccessful_first"]) == (
        summer["id"], True)
    elsewhere = CoordinatorFactory(community=CommunityFactory())
    foreign = api(elsewhere).post("/api/v1/programmes", camp_body(
        elsewhere.grants[0].community_id, previous_programme_id=summer["id"]))
    assert foreign.status_code == 422
    assert [e["field"] for e in foreign.get_json()["errors"]] == ["previous_programme_id"]


def test_a_camp_sets_its_themes_fee_dates_without_a_session_and_offer_window_through_the_api(api):
    community = CommunityFactory()
    coordinator = api(CoordinatorFactory(community=community))
    start = date.today() + timedelta(days=40)
    spring_festival = (start + timedelta(days=2)).isoformat()

    created = coordinator.post("/api/v1/programmes", camp_body(
        community.id, themes=["红色传承", "安全教育"], fee_cents=5000, excluded_dates=[spring_festival],
        promotion="offer", offer_hours=12, published=False))

    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["themes"], body["fee_cents"], body["excluded_dates"], body["offer_hours"], body["published"]) == (
        ["红色传承", "安全教育"], 5000, [spring_festival], 12, False)
    assert spring_festival not in {s["on_date"] for s in body["sessions"]} and len(body["sessions"]) == 4
    changed = coordinator.patch(f"/api/v1/programmes/{body['id']}", {"fee_cents": 0, "published": True})
    assert (changed.get_json()["fee_cents"], changed.get_json()["published"]) == (0, True)


def test_a_guardian_may_not_create_a_programme(api):
    community = CommunityFactory()
    response = api(UserFactory()).post("/api/v1/programmes", camp_body(community.id))
    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"


def test_another_communitys_coordinator_may_not_create_a_programme(api):
    community = CommunityFactory()
    stranger = CoordinatorFactory(community=CommunityFactory())
    response = api(stranger).post("/api/v1/programmes", camp_body(community.id))
    assert response.status_code == 403


def test_a_rule_of_the_service_answers_422_with_its_field(api):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    body = camp_body(community.id, min_age=12, max_age=6)
    response = api(coordinator).post("/api/v1/programmes", body)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "max_age"


def test_wrong_types_and_huge_numbers_are_422_not_500(api):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    body = camp_body(community.id, capacity=10**40, weekdays="Monday", start_time="nine",
                     registration_opens_at="2026-01-01T08:00:00")
    response = api(coordinator).post("/api/v1/programmes", body)
    assert response.status_code == 422
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert fields == {"capacity", "weekdays", "start_time", "registration_opens_at"}


def test_patch_changes_the_title_and_the_capacity(api):
    programme = ProgrammeFactory(capacity=10)
    coordinator = CoordinatorFactory(community=programme.community)
    response = api(coordinator).patch(f"/api/v1/programmes/{programme.id}", {"title": "小荷课堂", "capacity": 20})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["title"] == "小荷课堂"
    assert response.get_json()["capacity"] == 20 and response.get_json()["seats_left"] == 20


def test_patch_by_a_guardian_is_refused(api):
    programme = ProgrammeFactory()
    response = api(UserFactory()).patch(f"/api/v1/programmes/{programme.id}", {"title": "x"})
    assert response.status_code in (403, 404)


def test_an_unknown_programme_is_404(api):
    assert api().get("/api/v1/programmes/999999").status_code == 404
    assert api().get("/api/v1/programmes/999999/sessions").get_json()["code"] == "not_found"


def test_the_staffing_and_attendance_settings_are_set_and_changed_through_the_api(api):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    created = api(coordinator).post("/api/v1/programmes", camp_body(community.id, children_per_adult=8,
                                                                    late_after_minutes=5))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["children_per_adult"], body["late_after_minutes"], body["min_volunteers"]) == (8, 5, 1)
    changed = api(coordinator).patch(f"/api/v1/programmes/{body['id']}",
                                     {"pause_enrolment_when_understaffed": True, "absence_alert_minutes": 30})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["pause_enrolment_when_understaffed"] is True
    assert changed.get_json()["absence_alert_minutes"] == 30
    refused = api(coordinator).patch(f"/api/v1/programmes/{body['id']}", {"children_per_adult": 0})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "children_per_adult"
