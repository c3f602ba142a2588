"""A guardian's children over the API: add, read, change, remove; someone else's child is 404."""

from __future__ import annotations

import sqlalchemy as sa

from childcare.audit.models import AuditEntry
from childcare.children.models import PickupPerson
from childcare.db import db
from tests.factories import UserFactory

CHILD = {"name": "小明", "gender": "male", "birth_date": "2018-05-01", "grade": 2, "school": "红旗小学",
         "allergies": "花生", "photo_consent": True, "may_go_home_alone": False,
         "pickup_persons": [{"name": "王奶奶", "relation": "奶奶", "phone": "13800138111"}], "consent": True}


def test_a_guardian_adds_reads_changes_and_removes_a_child(api):
    guardian = api(UserFactory())
    response = guardian.post("/api/v1/children", CHILD)
    assert response.status_code == 201, response.get_json()
    child = response.get_json()
    assert child["grade"] == 2 and child["gender"] == "male" and child["birth_date"] == "2018-05-01"
    assert child["pickup_persons"][0]["name"] == "王奶奶"
    assert [c["id"] for c in guardian.get("/api/v1/children").get_json()["items"]] == [child["id"]]
    changed = guardian.patch(f"/api/v1/children/{child['id']}", {"grade": 3, "school": "实验小学"})
    assert changed.status_code == 200
    assert changed.get_json()["grade"] == 3 and changed.get_json()["allergies"] == "花生"
    assert guardian.get(f"/api/v1/children/{child['id']}").get_json()["school"] == "实验小学"
    assert guardian.delete(f"/api/v1/children/{child['id']}").status_code == 204
    assert guardian.get(f"/api/v1/children/{child['id']}").status_code == 404


def test_without_consent_the_child_is_not_added(api):
    guardian = api(UserFactory())
    response = guardian.post("/api/v1/children", {**CHILD, "consent": False})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "consent"
    assert guardian.get("/api/v1/children").get_json()["items"] == []


def test_a_grade_out_of_range_and_an_unknown_gender_are_invalid(api):
    response = api(UserFactory()).post("/api/v1/children", {**CHILD, "grade": 10, "gender": "other"})
    assert response.status_code == 422
    assert {e["field"] for e in response.get_json()["errors"]} == {"grade", "gender"}


def test_another_guardians_child_is_not_found(api):
    mine = api(UserFactory()).post("/api/v1/children", CHILD).get_json()
    stranger = api(UserFactory())
    for method, kwargs in (("get", {}), ("patch", {"json": {"grade": 4}}), ("delete", {})):
        response = getattr(stranger, method)(f"/api/v1/children/{mine['id']}", **kwargs)
        assert response.status_code == 404, method
        assert response.get_json()["code"] == "not_found"
    assert stranger.get("/api/v1/children").get_json()["items"] == []


# ---- pickup persons through PATCH -----------------------------------------------------------------------------

GRANDMA = {"name": "王奶奶", "relation": "奶奶", "phone": "13800138111"}
GRANDPA = {"name": "王爷爷", "relation": "爷爷", "phone": "13800138112"}


def _child_with_two_pickup_persons(guardian) -> dict:
    child = guardian.post("/api/v1/children", {**CHILD, "pickup_persons": [GRANDMA, GRANDPA]}).get_json()
    assert [p["name"] for p in child["pickup_persons"]] == ["王奶奶", "王爷爷"]
    return child


def _pickup_persons(child_id: int) -> list[tuple]:
    """What the database holds, read past the request (the test's own view of the rows)."""
    return [(p.id, p.name, p.relation, p.phone, p.blocked) for p in db.session.scalars(
        sa.select(PickupPerson).where(PickupPerson.child_id == child_id).order_by(PickupPerson.id))]


def _pickup_audit_actions() -> list[tuple[str, int | None]]:
    return [(e.action, e.object_id) for e in db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action.like("pickup_person.%")).order_by(AuditEntry.id))]


def test_a_patch_with_pickup_persons_updates_the_listed_adds_the_new_and_removes_the_rest(api, count_queries):
    guardian = api(UserFactory())
    child = _child_with_two_pickup_persons(guardian)
    grandma, grandpa = child["pickup_persons"]
    audited_before = len(_pickup_audit_actions())

    with count_queries() as n:
        response = guardian.patch(f"/api/v1/children/{child['id']}", {"pickup_persons": [
            {"id": grandma["id"], "name": "王奶奶", "relation": "外婆", "phone": "13800138119", "blocked": True},
            {"name": "李阿姨", "relation": "保姆", "phone": "13800138113"},
        ]})
    # one check of the token and the child, then per person: its write and its audit entry
    assert n() <= 18

    assert response.status_code == 200, response.get_json()
    answered = response.get_json()["pickup_persons"]
    assert [(p["name"], p["relation"], p["phone"], p["blocked"]) for p in answered] == [
        ("王奶奶", "外婆", "+8613800138119", True), ("李阿姨", "保姆", "+8613800138113", False)]
    assert answered[0]["id"] == grandma["id"]
    assert [p[1] for p in _pickup_persons(child["id"])] == ["王奶奶", "李阿姨"]
    new_id = answered[1]["id"]
    assert _pickup_audit_actions()[audited_before:] == [
        ("pickup_person.removed", grandpa["id"]), ("pickup_person.updated", grandma["id"]),
        ("pickup_person.blocked", grandma["id"]), ("pickup_person.added", new_id)]


def test_a_patch_without_pickup_persons_leaves_them_as_they_are(api):
    guardian = api(UserFactory())
    child = _child_with_two_pickup_persons(guardian)
    before = _pickup_persons(child["id"])
    response = guardian.patch(f"/api/v1/children/{child['id']}", {"grade": 4})
    assert response.status_code == 200
    assert response.get_json()["pickup_persons"] == child["pickup_persons"]
    assert _pickup_persons(child["id"]) == before


def test_an_empty_list_removes_every_pickup_person_and_null_is_refused(api):
    guardian = api(UserFactory())
    child = _child_with_two_pickup_persons(guardian)
    refused = guardian.patch(f"/api/v1/children/{child['id']}", {"pickup_persons": None})
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "pickup_persons"
    assert len(_pickup_persons(child["id"])) == 2
    emptied = guardian.patch(f"/api/v1/children/{child['id']}", {"pickup_persons": []})
    assert emptied.status_code == 200 and emptied.get_json()["pickup_persons"] == []
    assert _pickup_persons(child["id"]) == []


def test_a_pickup_person_id_of_another_childs_person_is_refused_and_nothing_changes(api):
    other_guardian = api(UserFactory())
    theirs = other_guardian.post("/api/v1/children", CHILD).get_json()
    their_person = theirs["pickup_persons"][0]
    guardian = api(UserFactory())
    child = _child_with_two_pickup_persons(guardian)
    mine_before, theirs_before = _pickup_persons(child["id"]), _pickup_persons(theirs["id"])
    audited_before = _pickup_audit_actions()

    response = guardian.patch(f"/api/v1/children/{child['id']}", {"grade": 5, "pickup_persons": [
        {"id": child["pickup_persons"][0]["id"], "name": "王奶奶"},
        {"id": their_person["id"], "name": "冒名顶替", "blocked": True},
    ]})

    assert response.status_code == 422, response.get_json()
    assert [e["field"] for e in response.get_json()["errors"]] == ["pickup_persons.1.id"]
    assert _pickup_persons(child["id"]) == mine_before
    assert _pickup_persons(theirs["id"]) == theirs_before
    assert _pickup_audit_actions() == audited_before
    assert guardian.get(f"/api/v1/children/{child['id']}").get_json()["grade"] == CHILD["grade"]


def test_an_invalid_phone_in_the_second_entry_is_refused_on_its_path_and_nothing_changes(api):
    guardian = api(UserFactory())
    child = _child_with_two_pickup_persons(guardian)
    before, audited_before = _pickup_persons(child["id"]), _pickup_audit_actions()

    response = guardian.patch(f"/api/v1/children/{child['id']}", {"school": "实验小学", "pickup_persons": [
        {"id": child["pickup_persons"][0]["id"], "name": "王奶奶", "relation": "外婆"},
        {"name": "李阿姨", "phone": "555"},
    ]})

    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("pickup_persons.1.phone", "invalid_phone")]
    assert _pickup_persons(child["id"]) == before
    assert _pickup_audit_actions() == audited_before
    assert guardian.get(f"/api/v1/children/{child['id']}").get_json()["school"] == CHILD["school"]


def test_more_than_ten_pickup_persons_are_refused(api):
    guardian = api(UserFactory())
    child = _child_with_two_pickup_persons(guardian)
    before = _pickup_persons(child["id"])
    eleven = [{"name": f"接送人{n}"} for n in range(11)]
    response = guardian.patch(f"/api/v1/children/{child['id']}", {"pickup_persons": eleven})
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "too_many" and problem["errors"][0]["field"] == "pickup_persons"
    assert _pickup_persons(child["id"]) == before
    assert guardian.patch(f"/api/v1/children/{child['id']}", {"pickup_persons": eleven[:10]}).status_code == 200
    assert len(_pickup_persons(child["id"])) == 10


def test_pickup_persons_of_another_guardians_child_are_not_found(api):
    mine = _child_with_two_pickup_persons(api(UserFactory()))
    before = _pickup_persons(mine["id"])
    stranger = api(UserFactory())
    response = stranger.patch(f"/api/v1/children/{mine['id']}", {"pickup_persons": [
        {"id": mine["pickup_persons"][0]["id"], "name": "陌生人", "blocked": True}]})
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"
    assert _pickup_persons(mine["id"]) == before
