"""openapi.json: OpenAPI 3.1, served to anyone, documenting every route of /api/v1 from the same models."""

from __future__ import annotations

import re

import pytest

OPERATIONS = [
    ("post", "/api/v1/accounts"), ("post", "/api/v1/tokens"), ("delete", "/api/v1/tokens/current"),
    ("get", "/api/v1/me"), ("get", "/api/v1/communities"), ("get", "/api/v1/programmes"),
    ("post", "/api/v1/programmes"), ("get", "/api/v1/programmes/{programme_id}"),
    ("patch", "/api/v1/programmes/{programme_id}"), ("get", "/api/v1/programmes/{programme_id}/sessions"),
    ("get", "/api/v1/programmes/{programme_id}/enrolments"), ("post", "/api/v1/children"),
    ("get", "/api/v1/children"), ("get", "/api/v1/children/{child_id}"), ("patch", "/api/v1/children/{child_id}"),
    ("delete", "/api/v1/children/{child_id}"), ("post", "/api/v1/enrolments"), ("get", "/api/v1/enrolments"),
    ("post", "/api/v1/enrolments/{enrolment_id}/cancel"), ("post", "/api/v1/enrolments/{enrolment_id}/accept"),
    ("post", "/api/v1/enrolments/{enrolment_id}/decline"), ("post", "/api/v1/leave"),
    ("post", "/api/v1/leave/{leave_id}/cancel"), ("get", "/api/v1/schedule"),
    ("get", "/api/v1/openapi.json"),
]


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = document["components"]["schemas"][name]
    return schema


def test_it_is_openapi_3_1_with_schemas_and_a_bearer_scheme(document):
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["components"]["securitySchemes"]["bearer"] == {
        **document["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}
    assert "Problem" in document["components"]["schemas"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_is_documented_with_responses(document, method, path):
    operation = document["paths"][path][method]
    assert operation["operationId"] and operation["responses"]
    assert any(code.startswith("2") for code in operation["responses"])
    for code, response in operation["responses"].items():
        assert "description" in response
        if int(code) >= 400:
            assert response["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
    for parameter in operation.get("parameters", []):
        assert parameter["in"] in {"path", "query", "header"} and "schema" in parameter


def test_all_refs_resolve(document):
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', __import__("json").dumps(document)))
    assert refs and refs <= set(document["components"]["schemas"])


def test_requests_list_required_fields_and_enums(document):
    create = document["paths"]["/api/v1/programmes"]["post"]
    schema = _resolve(document, create["requestBody"]["content"]["application/json"]["schema"])
    assert {"community_id", "kind", "title", "capacity", "starts_on", "ends_on", "weekdays", "start_time",
            "end_time"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    kind = _resolve(document, schema["properties"]["kind"])
    assert kind["enum"] == ["after_school", "holiday_camp"]
    status = _resolve(document, document["components"]["schemas"]["EnrolmentStatus"])
    assert set(status["enum"]) == {"pending", "confirmed", "offered", "waitlisted", "declined", "expired",
                                   "cancelled", "removed"}
    assert "401" in create["responses"] and "403" in create["responses"] and "422" in create["responses"]
    assert create["security"] == [{"bearer": []}]
    enrol = document["paths"]["/api/v1/enrolments"]["post"]
    assert {"201", "200", "503"} <= set(enrol["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in enrol["parameters"])


def test_every_api_route_of_the_url_map_is_in_the_document(app, document):
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, f"{method} {path} is not in openapi.json"
