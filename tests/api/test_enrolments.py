"""Enrolling over the API: a seat or a waiting-list place, repeats answer the same, cancelling promotes."""

from __future__ import annotations

import sqlalchemy as sa

from childcare.db import db
from childcare.enrolment.models import EnrolmentStatus
from tests.api.test_children import CHILD
from tests.api.test_programmes import camp_body
from tests.enrolment.factories import ChildFactory, EnrolmentFactory, PriorityGroupFactory
from tests.factories import CoordinatorFactory, ProgrammeFactory, UserFactory


def a_child(guardian, **fields) -> int:
    response = guardian.post("/api/v1/children", {**CHILD, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_a_guardian_enrols_a_child_and_gets_201(api):
    programme = ProgrammeFactory(capacity=5)
    guardian = api(UserFactory())
    child_id = a_child(guardian)
    response = guardian.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [child_id]})
    assert response.status_code == 201, response.get_json()
    [enrolment] = response.get_json()["enrolments"]
    assert enrolment["child_id"] == child_id and enrolment["status"] == "confirmed" and enrolment["position"] is None
    mine = guardian.get("/api/v1/enrolments").get_json()["items"]
    assert [e["id"] for e in mine] == [enrolment["id"]]
    assert api().get(f"/api/v1/programmes/{programme.id}").get_json()["seats_left"] == 4


def test_enrolling_again_answers_200_with_the_same_enrolment(api):
    programme = ProgrammeFactory(capacity=5)
    guardian = api(UserFactory())
    child_id = a_child(guardian)
    body = {"programme_id": programme.id, "child_ids": [child_id]}
    first = guardian.post("/api/v1/enrolments", body)
    again = guardian.post("/api/v1/enrolments", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["enrolments"][0]["id"] == first.get_json()["enrolments"][0]["id"]


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(api):
    programme = ProgrammeFactory(capacity=5)
    guardian = api(UserFactory())
    first_child, second_child = a_child(guardian), a_child(guardian, name="小红", gender="female")
    headers = {"Idempotency-Key": "sign-up-1"}
    body = {"programme_id": programme.id, "child_ids": [first_child]}
    first = guardian.post("/api/v1/enrolments", body, headers=headers)
    replay = guardian.post("/api/v1/enrolments", {"child_ids": [first_child], "programme_id": programme.id},
                           headers=headers)
    assert first.status_code == 201 and replay.status_code == 200
    assert replay.get_json() == first.get_json()
    other = guardian.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [second_child]},
                          headers=headers)
    assert other.status_code == 422
    assert other.get_json()["code"] == "idempotency_mismatch"


def test_a_key_is_scoped_to_the_account(api):
    programme = ProgrammeFactory(capacity=5)
    one, two = api(UserFactory()), api(UserFactory())
    headers = {"Idempotency-Key": "same-key"}
    first = one.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [a_child(one)]},
                     headers=headers)
    second = two.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [a_child(two)]},
                      headers=headers)
    assert first.status_code == 201 and second.status_code == 201


def test_a_full_programme_waitlists_with_a_position_and_cancelling_promotes(api):
    programme = ProgrammeFactory(capacity=1)
    first, second = api(UserFactory()), api(UserFactory())
    seated = first.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [a_child(first)]})
    waiting = second.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [a_child(second)]})
    assert seated.get_json()["enrolments"][0]["status"] == "confirmed"
    [waiter] = waiting.get_json()["enrolments"]
    assert waiter["status"] == "waitlisted" and waiter["position"] == 1
    assert api().get(f"/api/v1/programmes/{programme.id}").get_json()["waitlist_length"] == 1

    cancelled = first.post(f"/api/v1/enrolments/{seated.get_json()['enrolments'][0]['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    [promoted] = second.get("/api/v1/enrolments").get_json()["items"]
    assert promoted["id"] == waiter["id"] and promoted["status"] == "confirmed" and promoted["position"] is None


def test_a_coordinator_sees_every_enrolment_with_positions(api):
    programme = ProgrammeFactory(capacity=1)
    coordinator = api(CoordinatorFactory(community=programme.community))
    first, second = api(UserFactory(name="王芳", phone="+8613900001111")), api(UserFactory())
    first.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [a_child(first)]})
    second.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [a_child(second)]})
    items = coordinator.get(f"/api/v1/programmes/{programme.id}/enrolments").get_json()["items"]
    assert [(i["status"], i["position"]) for i in items] == [("confirmed", None), ("waitlisted", 1)]
    # whom to call about the child (the API's child carries no relation unless the guardian gives one)
    assert items[0]["guardians"] == [{"name": "王芳", "relation": "", "phone": "+8613900001111"}]
    waiting = coordinator.get(f"/api/v1/programmes/{programme.id}/enrolments?status=waitlisted").get_json()
    assert len(waiting["items"]) == 1
    assert first.get(f"/api/v1/programmes/{programme.id}/enrolments").status_code == 404


def test_a_family_signs_up_in_a_priority_group_that_the_coordinator_confirms_or_corrects(api):
    coordinator_user = CoordinatorFactory()
    coordinator = api(coordinator_user)
    body = {**camp_body(coordinator_user.grants[0].community_id), "capacity": 1,
            "priority_groups": ["本社区双职工家庭", "本社区其他家庭"]}
    created = coordinator.post("/api/v1/programmes", body)
    assert created.status_code == 201, created.get_json()
    programme_id = created.get_json()["id"]
    groups = api().get(f"/api/v1/programmes/{programme_id}").get_json()["priority_groups"]
    assert [(g["name"], g["rank"]) for g in groups] == [("本社区双职工家庭", 1), ("本社区其他家庭", 2)]
    listed = api().get("/api/v1/programmes").get_json()["items"]
    assert next(p for p in listed if p["id"] == programme_id)["priority_groups"] == groups

    first, second, third = (api(UserFactory()) for _ in range(3))
    first.post("/api/v1/enrolments", {"programme_id": programme_id, "child_ids": [a_child(first)]})
    early = second.post("/api/v1/enrolments", {"programme_id": programme_id, "child_ids": [a_child(second)]})
    late = third.post("/api/v1/enrolments", {"programme_id": programme_id, "child_ids": [a_child(third)],
                                             "priority_group_id": groups[1]["id"]})
    assert late.get_json()["enrolments"][0]["position"] == 1  # a group goes before arrivals without one
    late_id = late.get_json()["enrolments"][0]["id"]
    assert third.get("/api/v1/enrolments").get_json()["items"][0]["priority_group_id"] == groups[1]["id"]

    refused = third.post(f"/api/v1/enrolments/{late_id}/priority-group", {"priority_group_id": groups[0]["id"]})
    assert refused.status_code == 404  # a family cannot promote itself
    changed = coordinator.post(f"/api/v1/enrolments/{late_id}/priority-group", {"priority_group_id": None})
    assert changed.status_code == 200
    assert [(i["id"], i["priority_group_id"], i["position"]) for i in changed.get_json()["items"]] == [
        (late_id, None, 2)]
    waiting = coordinator.get(f"/api/v1/programmes/{programme_id}/enrolments?status=waitlisted").get_json()["items"]
    assert [i["id"] for i in waiting] == [early.get_json()["enrolments"][0]["id"], late_id]
    wrong = coordinator.post(f"/api/v1/enrolments/{late_id}/priority-group", {"priority_group_id": 10**6})
    assert wrong.status_code == 422 and [e["field"] for e in wrong.get_json()["errors"]] == ["priority_group_id"]


def test_what_an_ended_enrolment_no_longer_allows_answers_409_as_the_document_says(api):
    programme = ProgrammeFactory(capacity=1)
    PriorityGroupFactory(programme=programme, rank=1)
    user = UserFactory()
    guardian = api(user)
    removed = EnrolmentFactory(programme=programme, child=ChildFactory(guardian=user), status=EnrolmentStatus.REMOVED)
    db.session.commit()
    coordinator = api(CoordinatorFactory(community=programme.community))
    document = api().get("/api/v1/openapi.json").get_json()

    for caller, action, body in ((guardian, "cancel", None), (guardian, "accept", None), (guardian, "decline", None),
                                 (coordinator, "priority-group", {"priority_group_id": None})):
        answer = caller.post(f"/api/v1/enrolments/{removed.id}/{action}", body)
        assert (answer.status_code, answer.get_json()["code"]) == (409, "invalid_state"), action
        assert answer.get_json()["title"] == "Not possible now"
        assert "409" in document["paths"][f"/api/v1/enrolments/{{enrolment_id}}/{action}"]["post"]["responses"]


def test_after_the_draw_each_family_reads_its_place_and_anyone_the_seed(api):
    from childcare.enrolment import draw

    programme = ProgrammeFactory(capacity=1, allocation="draw")
    families = [api(UserFactory()) for _ in range(3)]
    for family in families:
        family.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [a_child(family)]})
    before = api().get(f"/api/v1/programmes/{programme.id}").get_json()
    assert (before["drawn_at"], before["draw_seed"]) == (None, None)
    draw.run_draw(programme_id=programme.id, seed="公示2026")
    db.session.commit()

    after = api().get(f"/api/v1/programmes/{programme.id}").get_json()
    ranks = [family.get("/api/v1/enrolments").get_json()["items"][0] for family in families]

    assert after["draw_seed"] == "公示2026" and after["drawn_at"]
    assert sorted(r["draw_rank"] for r in ranks) == [1, 2, 3]
    assert [r["status"] for r in sorted(ranks, key=lambda r: r["draw_rank"])] == ["confirmed", "waitlisted",
                                                                                 "waitlisted"]


def test_someone_elses_child_or_enrolment_is_404(api):
    programme = ProgrammeFactory(capacity=3)
    owner, stranger = api(UserFactory()), api(UserFactory())
    child_id = a_child(owner)
    response = stranger.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [child_id]})
    assert response.status_code == 404
    enrolment = owner.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [child_id]})
    enrolment_id = enrolment.get_json()["enrolments"][0]["id"]
    assert stranger.post(f"/api/v1/enrolments/{enrolment_id}/cancel").status_code == 404


def test_a_closed_registration_is_422_with_its_code(api):
    from datetime import UTC, datetime, timedelta

    programme = ProgrammeFactory(registration_closes_at=datetime.now(UTC) - timedelta(hours=1))
    guardian = api(UserFactory(), language="zh-CN")
    response = guardian.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [a_child(guardian)]})
    assert response.status_code == 422
    assert response.get_json()["code"] == "registration_closed"


def test_enrolling_needs_a_token(api):
    response = api().post("/api/v1/enrolments", {"programme_id": 1, "child_ids": [1]})
    assert response.status_code == 401


def test_the_enrolment_request_uses_few_queries_and_sets_no_cookie(api, count_queries):
    programme = ProgrammeFactory(capacity=5)
    guardian = api(UserFactory())
    child_id = a_child(guardian)
    guardian.get("/api/v1/me")
    with count_queries() as n:
        response = guardian.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [child_id]})
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    assert n() <= 16, n()


def test_an_offered_seat_is_accepted_or_declined(api):
    programme = ProgrammeFactory(capacity=1, promotion="offer")
    first, second, third = api(UserFactory()), api(UserFactory()), api(UserFactory())
    seated = first.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [a_child(first)]})
    waiting = second.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [a_child(second)]})
    third.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [a_child(third)]})
    first.post(f"/api/v1/enrolments/{seated.get_json()['enrolments'][0]['id']}/cancel")
    waiter_id = waiting.get_json()["enrolments"][0]["id"]
    [offered] = second.get("/api/v1/enrolments").get_json()["items"]
    assert offered["status"] == "offered" and offered["offer_expires_at"].endswith("+08:00")
    assert third.post(f"/api/v1/enrolments/{waiter_id}/accept").status_code == 404
    declined = second.post(f"/api/v1/enrolments/{waiter_id}/decline")
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    [next_offer] = third.get("/api/v1/enrolments").get_json()["items"]
    assert next_offer["status"] == "offered"
    accepted = third.post(f"/api/v1/enrolments/{next_offer['id']}/accept")
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "confirmed"


def test_day_booking_shows_seats_per_session_and_leave_is_asked_for_booked_sessions(api):
    from tests.api.test_programmes import camp_body
    from tests.factories import CommunityFactory

    community = CommunityFactory()
    coordinator = api(CoordinatorFactory(community=community))
    created = coordinator.post("/api/v1/programmes", camp_body(community.id, mode="day", capacity=2))
    assert created.status_code == 201, created.get_json()
    programme = created.get_json()
    assert programme["seats_left"] is None
    sessions = programme["sessions"]
    guardian = api(UserFactory())
    child_id = a_child(guardian)
    booked = guardian.post("/api/v1/enrolments", {"programme_id": programme["id"], "child_ids": [child_id],
                                                  "session_ids": [sessions[0]["id"], sessions[1]["id"]]})
    assert booked.status_code == 201, booked.get_json()
    assert {e["session_id"] for e in booked.get_json()["enrolments"]} == {sessions[0]["id"], sessions[1]["id"]}
    seats = {s["id"]: s["seats_left"] for s in api().get(f"/api/v1/programmes/{programme['id']}/sessions")
             .get_json()["items"]}
    assert seats[sessions[0]["id"]] == 1 and seats[sessions[2]["id"]] == 2
    leave = guardian.post("/api/v1/leave", {"child_id": child_id, "session_ids": [sessions[0]["id"]],
                                            "reason": "发烧"})
    assert leave.status_code == 201, leave.get_json()
    assert leave.get_json()["leaves"][0]["session_id"] == sessions[0]["id"]
    refused = guardian.post("/api/v1/leave", {"child_id": child_id, "session_ids": [sessions[3]["id"]]})
    assert refused.status_code == 422


def test_a_sign_up_reads_the_programme_and_children_in_the_round_trip_of_its_token(api, app, dialect):
    """A mother who also volunteers enrols the child she shares with its father: on PostgreSQL the token lookup
    brings the programme and the children along (a message fewer), and nothing is read twice or counted twice:
    her two roles, the father's message, the answer."""
    from childcare.accounts.models import Role
    from childcare.api.auth import authenticate_request
    from childcare.children.models import Child, Guardianship
    from childcare.db import take_read_ahead
    from childcare.enrolment.services import first_read_of_sign_up
    from childcare.notifications.models import Notification

    programme = ProgrammeFactory(capacity=5)
    mother_account = UserFactory(roles=[Role.GUARDIAN, Role.VOLUNTEER])
    father = UserFactory()
    mother = api(mother_account)
    child_id = a_child(mother)
    db.session.add(Guardianship(child_id=child_id, user_id=father.id, relation="爸爸"))
    db.session.commit()
    sent: list[str] = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        made = conn.connection.info.get("prepared_statements", {})  # the SQL behind an EXECUTE, if it is one
        own = statement.removeprefix("BEGIN; ")
        sent.append(next((sql for sql, execute in made.items() if execute == own), own))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", watch)
    try:
        response = mother.post("/api/v1/enrolments", {"programme_id": programme.id, "child_ids": [child_id]})
    finally:
        sa.event.remove(engine, "before_cursor_execute", watch)
    assert response.status_code == 201, response.get_json()
    [enrolment] = response.get_json()["enrolments"]
    assert enrolment["status"] == "confirmed"
    if dialect == "postgresql":
        [lookup] = [statement for statement in sent if "FROM api_tokens" in statement]
        assert "FROM programmes" in lookup and "guardianships" in lookup
        assert [statement for statement in sent if "FROM programmes" in statement] == [lookup]
    with app.app_context():
        told = db.session.scalars(sa.select(Notification.user_id).where(Notification.kind == "enrolment.confirmed"))
        assert sorted(told) == sorted([mother_account.id, father.id])
        assert db.session.get(Child, child_id).name == CHILD["name"]
        db.session.remove()
    # What the lookup answers beside the rows read along: the account with each of its roles once.
    with app.test_request_context("/api/v1/enrolments", headers={"Authorization": f"Bearer {mother.token}"}):
        account = authenticate_request(along=first_read_of_sign_up(programme.id, [child_id]))
        assert sorted(grant.role for grant in account.grants) == [Role.GUARDIAN, Role.VOLUNTEER]
        read = take_read_ahead(*_with_actor(first_read_of_sign_up(programme.id, [child_id]), account.id))
        if dialect == "postgresql":
            assert len(read) == 2  # the child with each of its guardians, once
            assert take_read_ahead(*_with_actor(first_read_of_sign_up(programme.id, [child_id]), account.id)) is None
        else:
            assert read is None  # SQLite reads it when the sign-up asks
        db.session.remove()


def _with_actor(first_read, actor_id: int):
    statement, params = first_read
    return statement, {**params, "actor_id": actor_id}


def test_a_sign_up_with_a_bad_body_and_no_token_is_401(api):
    response = api().post("/api/v1/enrolments", {"programme_id": "one", "child_ids": [1]})
    assert response.status_code == 401
    assert api(UserFactory()).post("/api/v1/enrolments", {"programme_id": "one"}).status_code == 422


# ---- my schedule and withdrawing a leave ---------------------------------------------------------------------------


def enrolled_in_a_camp(guardian, names: tuple[str, ...] = ("王小红",), **camp):
    """The guardian's new children (by name), each with a seat in a new three-day camp; answers (ids, camp)."""
    from childcare.children.models import Child
    from tests.enrolment.factories import EnrolmentFactory, ProgrammeWithSessionsFactory

    programme = ProgrammeWithSessionsFactory(**camp)
    ids = [a_child(guardian, name=name) for name in names]
    for child_id in ids:
        EnrolmentFactory(child=db.session.get(Child, child_id), programme=programme)
    return ids, programme


def test_the_schedule_lists_each_childs_sessions_with_its_leave_and_leads_to_later_ones(api):
    guardian, stranger = api(UserFactory()), api(UserFactory())
    sisters, camp = enrolled_in_a_camp(guardian, ("王小红", "王小兰"), title="七色花营地")
    first, second, last = camp.sessions
    day = first.on_date.isoformat()
    enrolled_in_a_camp(stranger, ("陈小东",))
    leave = guardian.post("/api/v1/leave", {"child_id": sisters[0], "session_ids": [first.id], "reason": "看病"})
    assert leave.status_code == 201, leave.get_json()

    one_day = guardian.get(f"/api/v1/schedule?from={day}&days=1").get_json()

    assert [(i["session_id"], i["child_name"]) for i in one_day["items"]] == [(first.id, "王小红"),
                                                                              (first.id, "王小兰")]
    assert one_day["items"][0]["leave"]["reason"] == "看病" and one_day["items"][1]["leave"] is None
    assert one_day["items"][0]["programme_title"] == "七色花营地" and one_day["items"][0]["status"] == "confirmed"
    assert one_day["next"] == second.on_date.isoformat()
    following = guardian.get(f"/api/v1/schedule?from={one_day['next']}&days=1").get_json()
    assert {i["session_id"] for i in following["items"]} == {second.id}
    assert guardian.get(f"/api/v1/schedule?from={last.on_date.isoformat()}").get_json()["next"] is None
    # the camp begins in a month: today's fortnight is empty and leads to it
    assert guardian.get("/api/v1/schedule").get_json() == {"items": [], "next": day}
    assert {i["child_name"] for i in stranger.get(f"/api/v1/schedule?from={day}").get_json()["items"]} == {"陈小东"}


def test_a_guardian_withdraws_a_leave_before_the_session_and_the_answer_says_so(api):
    guardian = api(UserFactory())
    [child_id], camp = enrolled_in_a_camp(guardian)
    session = camp.sessions[0]
    [leave] = guardian.post("/api/v1/leave", {"child_id": child_id, "session_ids": [session.id]}
                            ).get_json()["leaves"]
    assert leave["cancelled_at"] is None

    withdrawn = guardian.post(f"/api/v1/leave/{leave['id']}/cancel")

    assert withdrawn.status_code == 200 and withdrawn.get_json()["cancelled_at"] is not None
    assert guardian.post(f"/api/v1/leave/{leave['id']}/cancel").status_code == 200  # once more: as it is
    assert api(UserFactory()).post(f"/api/v1/leave/{leave['id']}/cancel").status_code == 404
    [item] = guardian.get(f"/api/v1/schedule?from={session.on_date.isoformat()}&days=1").get_json()["items"]
    assert item["leave"] is None


def test_the_schedule_costs_the_same_queries_for_one_child_or_many(api, count_queries):
    def queries_for(guardian, day: str) -> int:
        with count_queries() as n:
            assert guardian.get(f"/api/v1/schedule?from={day}").status_code == 200
        return n()

    small = api(UserFactory())
    _ids, camp = enrolled_in_a_camp(small)
    day = camp.starts_on.isoformat()  # every camp of the factory begins that day
    large = api(UserFactory())
    for _ in range(3):
        enrolled_in_a_camp(large, ("王小红", "王小兰", "王小青"))
    assert queries_for(small, day) == queries_for(large, day) <= 6
