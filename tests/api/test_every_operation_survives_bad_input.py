"""Every operation of openapi.json survives bad input: a clear 4xx problem in the user's language, never a 500,
and nothing stored is lost or changed.

The bad input is derived from the document the API serves: each request body is sent as something that is not
JSON, as JSON that is not an object, and with each declared property in turn given a value of the wrong type or
format; path ids and query parameters get values no row or filter can have. Each operation is called by someone
who may call it (the guardian of the child, the coordinator of the programme's community), so that the bad input
reaches validation rather than stopping at a 403 or 404; the story's own request then still succeeds.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from childcare.db import db, utcnow
from childcare.enrolment.models import EnrolmentStatus, Leave
from childcare.extensions import limiter
from tests.api.conftest import Api
from tests.api.test_children import CHILD, GRANDMA
from tests.api.test_programmes import camp_body
from tests.enrolment.factories import (
    ChildFactory,
    EnrolmentFactory,
    PriorityGroupFactory,
    ProgrammeWithSessionsFactory,
)
from tests.factories import PASSWORD, CommunityFactory, CoordinatorFactory, ProgrammeFactory, UserFactory

HUGE = 2**80  # far beyond 64 bits, let alone the database's integer columns
LONG = "9" * 100_000  # digits, so that a number parsed from it is huge as well
NUL = "a\u0000b"
LONE_SURROGATE = "a\ud800b"  # valid JSON escapes, but no Unicode text: it cannot be stored as UTF-8
#: one value of each JSON type: a property is sent each one its schema does not accept
OF_TYPE = {"string": "abc", "integer": 7, "boolean": True, "array": ["abc"], "object": {"abc": 1}, "null": None}
WRONG_DATES = ["2026-13-01", "2026-02-30", "01/07/2026", "2026-7-1", "tomorrow", "", "0001-01-01", "9999-12-31"]
WRONG_TIMES = ["24:00", "16:60", "4:30 PM", "1630", "16:30+08:00", "16:30:00.5"]
WRONG_INSTANTS = ["2026-07-01T08:00:00", "2026-07-01", "2026-02-30T08:00:00+08:00", "2026-07-01T08:00:00+25:00",
                  "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00", "9999-12-31T23:59:59+00:00"]
NOT_OBJECTS = {"not JSON": b"{not json", "not UTF-8": b'{"name": "\xff\xfe"}', "nested too deep": b"[" * 100_000,
               "an array": b"[]", "a string": b'"abc"', "a number": b"7", "null": b"null"}
BAD_IDS = ["0", "-1", str(2**31), str(HUGE), "abc", "1.5"]
#: columns that a refused request may still touch: the token's once-a-minute "last used" stamp
STAMPS = {("api_tokens", "last_used_at")}
#: how a value of each JSON type reads in a query string
QUERY_TYPES = {"abc": "string", "7": "integer", "true": "boolean", "[1]": "array", "{}": "object"}
REMOVED = object()
CJK = re.compile(r"[\u4e00-\u9fff]")


# ---- the stories: who may call each operation, and a request of theirs that succeeds --------------------------


@dataclass
class Story:
    """An allowed caller and a request that succeeds: the bad input is a variation of it."""

    caller: Api
    ids: dict[str, int] = field(default_factory=dict)
    body: dict | None = None
    query: dict[str, str] = field(default_factory=dict)


STORIES: dict[str, Callable[[Callable[..., Api]], Story]] = {}


def story(operation_id: str):
    def register(fn):
        STORIES[operation_id] = fn
        return fn
    return register


def a_guardian_with_a_child(api) -> tuple[Api, Any, Any]:
    guardian = UserFactory()
    return api(guardian), guardian, ChildFactory(guardian=guardian)


def an_enrolment(api, status: EnrolmentStatus = EnrolmentStatus.CONFIRMED) -> Story:
    caller, _guardian, child = a_guardian_with_a_child(api)
    offer = {"offer_expires_at": utcnow() + timedelta(days=1)} if status == EnrolmentStatus.OFFERED else {}
    enrolment = EnrolmentFactory(child=child, programme=ProgrammeFactory(), status=status, **offer)
    return Story(caller, ids={"enrolment_id": enrolment.id})


def a_coordinators_programme(api) -> tuple[Api, Any]:
    programme = ProgrammeFactory()
    return api(CoordinatorFactory(community=programme.community)), programme


@story("create_account")
def a_neighbour_registers(api):
    return Story(api(), body={"phone": "13912345678", "password": "Xingbei-2026", "name": "王芳"})


@story("create_token")
def a_guardian_signs_in_from_the_mini_program(api):
    return Story(api(), body={"phone": UserFactory().phone, "password": PASSWORD, "name": "小程序"})


@story("list_programmes")
def a_visitor_looks_for_open_camps(api):
    programme = ProgrammeFactory()
    return Story(api(), query={"community_id": str(programme.community_id), "kind": "holiday_camp", "open": "true"})


@story("get_programme")
def a_visitor_reads_a_programme(api):
    return Story(api(), ids={"programme_id": ProgrammeFactory().id})


@story("list_sessions")
def a_visitor_reads_the_sessions(api):
    return Story(api(), ids={"programme_id": ProgrammeWithSessionsFactory().id})


@story("create_programme")
def a_coordinator_creates_a_camp(api):
    community = CommunityFactory()
    return Story(api(CoordinatorFactory(community=community)), body=camp_body(community.id))


@story("update_programme")
def a_coordinator_changes_a_programme(api):
    caller, programme = a_coordinators_programme(api)
    return Story(caller, ids={"programme_id": programme.id}, body={"title": "七色花营地", "capacity": 12})


@story("list_programme_enrolments")
def a_coordinator_lists_the_confirmed_children(api):
    caller, programme = a_coordinators_programme(api)
    return Story(caller, ids={"programme_id": programme.id}, query={"status": "confirmed"})


@story("create_child")
def a_guardian_adds_a_child(api):
    return Story(api(UserFactory()), body=copy.deepcopy(CHILD))


@story("get_child")
def a_guardian_reads_their_child(api):
    caller, _guardian, child = a_guardian_with_a_child(api)
    return Story(caller, ids={"child_id": child.id})


@story("update_child")
def a_guardian_changes_the_grade_and_the_pickup_persons(api):
    caller, _guardian, child = a_guardian_with_a_child(api)
    return Story(caller, ids={"child_id": child.id}, body={"grade": 3, "pickup_persons": [dict(GRANDMA)]})


@story("delete_child")
def a_guardian_removes_their_child(api):
    caller, _guardian, child = a_guardian_with_a_child(api)
    return Story(caller, ids={"child_id": child.id})


@story("create_enrolments")
def a_guardian_enrols_their_child(api):
    caller, _guardian, child = a_guardian_with_a_child(api)
    return Story(caller, body={"programme_id": ProgrammeFactory().id, "child_ids": [child.id], "all_or_none": False})


@story("cancel_enrolment")
def a_guardian_cancels_an_enrolment(api):
    return an_enrolment(api)


@story("accept_offer")
def a_guardian_accepts_an_offered_seat(api):
    return an_enrolment(api, EnrolmentStatus.OFFERED)


@story("decline_offer")
def a_guardian_declines_an_offered_seat(api):
    return an_enrolment(api, EnrolmentStatus.OFFERED)


@story("change_priority_group")
def a_coordinator_confirms_a_familys_priority_group(api):
    caller, programme = a_coordinators_programme(api)
    group = PriorityGroupFactory(programme=programme, rank=1)
    enrolment = EnrolmentFactory(programme=programme, status=EnrolmentStatus.WAITLISTED)
    db.session.commit()
    return Story(caller, ids={"enrolment_id": enrolment.id}, body={"priority_group_id": group.id})


@story("request_leave")
def a_guardian_asks_for_leave(api):
    caller, _guardian, child = a_guardian_with_a_child(api)
    programme = ProgrammeWithSessionsFactory()
    EnrolmentFactory(child=child, programme=programme)
    return Story(caller, body={"child_id": child.id, "session_ids": [programme.sessions[0].id], "reason": "看病"})


@story("cancel_leave")
def a_guardian_withdraws_a_leave(api):
    caller, _guardian, child = a_guardian_with_a_child(api)
    programme = ProgrammeWithSessionsFactory()
    EnrolmentFactory(child=child, programme=programme)
    leave = Leave(child_id=child.id, session_id=programme.sessions[0].id, reason="看病")
    db.session.add(leave)
    db.session.commit()
    return Story(caller, ids={"leave_id": leave.id})


@story("show_schedule")
def a_guardian_reads_the_week_of_the_camp(api):
    caller, _guardian, child = a_guardian_with_a_child(api)
    programme = ProgrammeWithSessionsFactory()
    EnrolmentFactory(child=child, programme=programme)
    return Story(caller, query={"from": programme.starts_on.isoformat(), "days": "7"})


# ---- reading the document -------------------------------------------------------------------------------------


@pytest.fixture
def document(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def operations(document: dict) -> dict[str, tuple[str, str, dict]]:
    """operation id → (method, path, operation)."""
    return {op["operationId"]: (method, path, op)
            for path, item in document["paths"].items() for method, op in item.items()}


def resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def accepted_types(document: dict, schema: dict) -> set[str]:
    """The JSON types a schema accepts."""
    schema = resolve(document, schema)
    if "anyOf" in schema:
        return set().union(*(accepted_types(document, branch) for branch in schema["anyOf"]))
    if "enum" in schema:
        return {"string" if isinstance(value, str) else "integer" for value in schema["enum"]}
    kind = schema.get("type")
    return set(OF_TYPE) if kind is None else {kind} if isinstance(kind, str) else set(kind)


def not_null(document: dict, schema: dict) -> dict:
    """The schema's non-null branch (a nullable property's real shape)."""
    schema = resolve(document, schema)
    branches = [b for b in schema.get("anyOf", []) if resolve(document, b).get("type") != "null"]
    return resolve(document, branches[0]) if len(branches) == 1 else schema


def bad_values(document: dict, schema: dict, current: Any = None) -> Iterator[tuple[str, Any]]:
    """Values the schema refuses: other JSON types, values beyond its bounds, absurd sizes, control characters,
    wrong formats. `current` is the story's value, for a list that is one item too long."""
    accepted = accepted_types(document, schema)
    for kind, value in OF_TYPE.items():
        if kind not in accepted:
            yield kind, value
    yield "a huge integer", HUGE
    yield "100k characters", LONG
    yield "a NUL character", NUL
    yield "a lone surrogate", LONE_SURROGATE
    shape = not_null(document, schema)
    if "enum" in shape:
        yield "a choice not listed", "abc"
    if "minimum" in shape:
        yield "below its minimum", shape["minimum"] - 1
    if shape.get("minLength"):
        yield "empty", ""
    if shape.get("minItems"):
        yield "an empty list", []
    if "maxItems" in shape and current:
        yield "one item too many", current[:1] * (shape["maxItems"] + 1)
    if shape.get("format") == "date":
        yield from ((f"the date {value!r}", value) for value in WRONG_DATES)
    elif shape.get("format") == "date-time":
        yield from ((f"the instant {value!r}", value) for value in WRONG_INSTANTS)
    elif "pattern" in shape and re.fullmatch(shape["pattern"], "16:30"):
        yield from ((f"the time {value!r}", value) for value in WRONG_TIMES)


def changed(body: dict, where: tuple, value: Any) -> dict:
    """A copy of the body with the value at `where` (a path of keys and indexes) replaced, or removed."""
    copied = copy.deepcopy(body)
    parent = copied
    for step in where[:-1]:
        parent = parent[step]
    if value is REMOVED:
        del parent[where[-1]]
    else:
        parent[where[-1]] = value
    return copied


def dotted(where: tuple) -> str:
    return ".".join(map(str, where))


def bad_bodies(document: dict, schema: dict, body: dict, where: tuple = ()) -> Iterator[tuple[str, dict]]:
    """The story's body with one property at a time made wrong, nested objects and list items included."""
    schema = not_null(document, schema)
    here = body
    for step in where:
        here = here[step]
    for name in schema.get("required", []):
        yield f"{dotted((*where, name))} missing", changed(body, (*where, name), REMOVED)
    yield f"{dotted((*where, 'undocumented'))} sent", changed(body, (*where, "undocumented"), 1)
    for name, prop in schema.get("properties", {}).items():
        place, current = (*where, name), here.get(name)
        for what, value in bad_values(document, prop, current):
            yield f"{dotted(place)} as {what}", changed(body, place, value)
        shape = not_null(document, prop)
        if isinstance(current, dict):
            yield from bad_bodies(document, shape, body, place)
        elif isinstance(current, list) and current and "items" in shape:
            items = not_null(document, shape["items"])
            if "properties" in items:
                yield from bad_bodies(document, items, body, (*place, 0))
            else:
                for what, value in bad_values(document, shape["items"]):
                    yield f"{dotted((*place, 0))} as {what}", changed(body, (*place, 0), value)


def bad_queries(document: dict, operation: dict, query: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """The story's query with one parameter at a time of the wrong type or size, and one nobody declared."""
    declared = [parameter for parameter in operation["parameters"] if parameter["in"] == "query"]
    if declared:
        yield "an undocumented parameter", {**query, "undocumented": "1"}
    for parameter in declared:
        accepted = accepted_types(document, parameter["schema"])
        choices = set(not_null(document, parameter["schema"]).get("enum", []))
        for value, kind in QUERY_TYPES.items():
            if kind not in accepted or (choices and value not in choices):
                yield f"{parameter['name']} as {kind}", {**query, parameter["name"]: value}
        for what, value in (("a huge integer", str(HUGE)), ("100k characters", LONG), ("a NUL character", NUL)):
            yield f"{parameter['name']} as {what}", {**query, parameter["name"]: value}


# ---- calling ---------------------------------------------------------------------------------------------------


def url(path: str, ids: dict[str, Any], query: dict[str, str] | None = None) -> str:
    filled = re.sub(r"{(\w+)}", lambda m: str(ids[m.group(1)]), path)
    return f"{filled}?{urlencode(query)}" if query else filled


def send(caller: Api, method: str, target: str, raw: bytes | None = None, language: str | None = "en"):
    limiter.reset()  # a rate limit would answer 429 before the body is read: let every case reach validation
    headers = caller.headers()
    if language is None:
        headers.pop("Accept-Language")
    else:
        headers["Accept-Language"] = language
    return caller.client.open(target, method=method.upper(), headers=headers, data=raw,
                              content_type="application/json" if raw is not None else None)


def encoded(body: Any) -> bytes:
    return json.dumps(body).encode()


def what_is_wrong(response, statuses: set[int]) -> str | None:
    """None for a clear refusal; otherwise what is wrong with the answer."""
    if response.status_code not in statuses:
        return f"{response.status_code} {response.get_data(as_text=True)[:300]}"
    if response.mimetype != "application/problem+json":
        return f"{response.status_code} as {response.mimetype}"
    problem = response.get_json()
    if not (problem.get("detail") or "").strip() or not problem.get("code"):
        return f"no detail or code: {problem}"
    if any(not (error.get("detail") or "").strip() for error in problem.get("errors") or []):
        return f"a field error without detail: {problem['errors']}"
    return None


def stored() -> dict[str, list]:
    """Every row of every table, but for the stamps a refused request may still make."""
    rows = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.c if (table.name, c.name) not in STAMPS]
        rows[table.name] = sorted((tuple(row) for row in db.session.execute(sa.select(*columns))), key=repr)
    return rows


def bad_requests(document: dict, operation_id: str, story_: Story) -> Iterator[tuple[str, str, bytes | None, set]]:
    """(case, url, raw body, statuses that are a clear refusal) for every bad input derived for the operation."""
    method, path, operation = operations(document)[operation_id]
    body = encoded(story_.body) if story_.body is not None else None
    for name in story_.ids:
        for bad_id in BAD_IDS:
            yield f"{name}={bad_id}", url(path, {**story_.ids, name: bad_id}, story_.query), body, {404}
    if "requestBody" in operation:
        target = url(path, story_.ids, story_.query)
        for case, raw in NOT_OBJECTS.items():
            yield f"the body as {case}", target, raw, {400, 422}
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        for case, bad in bad_bodies(document, schema, story_.body):
            yield case, target, encoded(bad), {400, 422}
    for case, query in bad_queries(document, operation, story_.query):
        yield case, url(path, story_.ids, query), body, {422}


# ---- the tests -------------------------------------------------------------------------------------------------


def test_every_operation_that_takes_input_has_a_story(document):
    takes_input = {op_id for op_id, (_method, _path, op) in operations(document).items()
                   if "requestBody" in op or any(p["in"] in ("path", "query") for p in op["parameters"])}
    assert takes_input == set(STORIES)


@pytest.mark.parametrize("operation_id", sorted(STORIES))
def test_bad_input_is_refused_clearly_and_nothing_is_lost(api, document, operation_id):
    story_ = STORIES[operation_id](api)
    method, path, _operation = operations(document)[operation_id]
    before = stored()
    unclear = []
    cases = 0
    for case, target, raw, statuses in bad_requests(document, operation_id, story_):
        cases += 1
        wrong = what_is_wrong(send(story_.caller, method, target, raw), statuses)
        if wrong:
            unclear.append(f"{case}: {wrong}")
    assert not unclear, f"{len(unclear)} of {cases} bad requests were not refused clearly:\n" + "\n".join(unclear)
    assert stored() == before
    # The story's own request succeeds: the caller was allowed, so the refusals above came from validation.
    body = encoded(story_.body) if story_.body is not None else None
    response = send(story_.caller, method, url(path, story_.ids, story_.query), body)
    assert 200 <= response.status_code < 300, response.get_json()


@pytest.mark.parametrize("operation_id", sorted(STORIES))
def test_the_refusal_is_in_chinese_by_default_and_in_english_when_asked(api, document, operation_id):
    story_ = STORIES[operation_id](api)
    method = operations(document)[operation_id][0]
    case, target, raw, _statuses = next(bad_requests(document, operation_id, story_))
    chinese = send(story_.caller, method, target, raw, language=None).get_json()
    english = send(story_.caller, method, target, raw, language="en").get_json()
    assert CJK.search(chinese["detail"]), (case, chinese)
    assert not CJK.search(english["detail"]) and re.search(r"[A-Za-z]{3}", english["detail"]), (case, english)


# ---- found while walking the document, where no single property shows it ----------------------------------------


def test_a_camp_in_year_one_that_starts_before_eight_is_refused_not_crashed(api):
    # 07:00 in Shanghai on 1 January of year 1 is still year 0 in UTC, which no calendar holds.
    community = CommunityFactory()
    coordinator = api(CoordinatorFactory(community=community))
    before = stored()
    response = coordinator.post("/api/v1/programmes", camp_body(
        community.id, starts_on="0001-01-01", ends_on="0001-01-03", start_time="07:00", end_time="08:00",
        registration_opens_at=None, registration_closes_at=None))
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert "out of range" in response.get_json()["detail"]
    assert stored() == before


def test_a_capacity_too_large_for_a_new_programme_is_refused_on_change_so_the_programme_stays_editable(api):
    coordinator, programme = a_coordinators_programme(api)
    address = f"/api/v1/programmes/{programme.id}"
    response = coordinator.patch(address, {"capacity": 5000})
    assert response.status_code == 422
    assert [error["field"] for error in response.get_json()["errors"]] == ["capacity"]
    assert coordinator.patch(address, {"title": "七色花营地"}).status_code == 200
