"""Bad input of every kind is a 4xx problem, never a 500."""

from __future__ import annotations

import pytest

from tests.api.test_children import CHILD
from tests.factories import UserFactory


@pytest.mark.parametrize("child", [
    {**CHILD, "name": "小\u0000明"},
    {**CHILD, "birth_date": "0001-01-01"},
    {**CHILD, "birth_date": "9999-12-31"},
    {**CHILD, "grade": 2**70},
    {**CHILD, "grade": 1.5},
    {**CHILD, "grade": "二"},
    {**CHILD, "pickup_persons": [{"name": "x" * 10000}]},
    {**CHILD, "pickup_persons": "王奶奶"},
    {**CHILD, "consent": "yes please"},
    {**CHILD, "name": ["小明"]},
    {**CHILD, "name": None},
])
def test_a_child_with_bad_fields_is_refused_not_crashed(api, child):
    response = api(UserFactory()).post("/api/v1/children", child)
    assert 400 <= response.status_code < 500, response.get_json()
    assert response.mimetype == "application/problem+json"


def test_ids_beyond_any_integer_column_are_404(api):
    guardian = api(UserFactory())
    assert guardian.get(f"/api/v1/children/{2**80}").status_code == 404
    assert guardian.post(f"/api/v1/enrolments/{2**40}/cancel").status_code == 404
    response = guardian.post("/api/v1/enrolments", {"programme_id": 2**40, "child_ids": [1]})
    assert response.status_code == 422


def test_a_control_character_in_the_idempotency_key_is_refused(api):
    response = api(UserFactory()).post("/api/v1/enrolments", {"programme_id": 1, "child_ids": [1]},
                                       headers={"Idempotency-Key": "a\tb"})
    assert response.status_code == 422
