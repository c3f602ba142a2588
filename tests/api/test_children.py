"""A guardian's children over the API: add, read, change, remove; someone else's child is 404."""

from __future__ import annotations

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
