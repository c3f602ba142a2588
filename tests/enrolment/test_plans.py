"""The statements of a sign-up reach their rows through indexes led by what they look for, so that a sign-up costs
the same in a city's hundredth programme as in its first (PostgreSQL's plans; the tables here are tiny, so
sequential scans are switched off to ask what the planner could do at scale)."""

from __future__ import annotations

import pytest

from childcare.db import core_connection, db
from childcare.enrolment import capacity, services
from tests.enrolment.factories import ChildFactory, DayProgrammeFactory
from tests.factories import ProgrammeFactory

pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.fixture(autouse=True)
def _postgresql_at_scale(dialect):
    if dialect != "postgresql":
        pytest.skip("query plans are PostgreSQL's")
    core_connection().exec_driver_sql("SET LOCAL enable_seqscan = off")


def _plan(sql: str, params: dict | None = None) -> dict:
    return core_connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", params or {}).scalar()[0]["Plan"]


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _index_conditions(plan: dict, alias: str) -> list[tuple[str, str]]:
    """(index, condition) of each scan of the table under this alias; a scan without an index answers ("", "")."""
    found = []
    for node in _nodes(plan):
        if node.get("Alias") != alias:
            continue
        if node["Node Type"] == "Bitmap Heap Scan":
            found += [(child["Index Name"], child.get("Index Cond", "")) for child in _nodes(node)
                      if child["Node Type"] == "Bitmap Index Scan"]
        else:
            found.append((node.get("Index Name", ""), node.get("Index Cond", "")))
    return found


def _leading_column(index: str) -> str:
    return core_connection().exec_driver_sql(
        "SELECT a.attname FROM pg_index AS i JOIN pg_attribute AS a ON a.attrelid = i.indrelid "
        "AND a.attnum = i.indkey[0] WHERE i.indexrelid = %(index)s::regclass", {"index": index}).scalar()


def test_the_overlap_check_finds_the_other_programmes_sessions_by_their_programme():
    child = ChildFactory()
    statement = services._PROGRAMME_AND_CHILDREN  # the overlap check rides in the sign-up's first read
    for params in ({"programme_id": 1, "actor_id": 1, "child_ids": [child.id], "session_ids": []},
                   {"programme_id": 1, "actor_id": 1, "child_ids": [child.id], "session_ids": [1, 2]}):
        sql = str(statement.params(**params).compile(db.engine, compile_kwargs={"literal_binds": True}))
        scans = _index_conditions(_plan(sql), "their_sessions")
        assert scans, sql
        assert all(index and "programme_id" in condition for index, condition in scans), scans


@pytest.mark.parametrize("day", [False, True])
def test_the_recount_inside_the_lock_reads_only_the_programmes_or_sessions_enrolments(day):
    programme = DayProgrammeFactory() if day else ProgrammeFactory()
    _lock, recount = capacity._pg_lock_and_recount(day=day, id_tables=())
    params = {"programme_id": programme.id, "session_ids": [s.id for s in programme.sessions] if day else [],
              "priority": 100, "child_ids": [0]}
    scans = _index_conditions(_plan(recount, params), "e")
    assert scans
    fixed = {"programme_id", "session_id"} if day else {"programme_id"}  # never led by the child
    assert all(index and _leading_column(index) in fixed for index, _condition in scans), scans
