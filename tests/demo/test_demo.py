"""`flask demo load` builds the communities of the domain notes, and running it again changes nothing."""

import sqlalchemy as sa

from childcare.children.models import Child
from childcare.db import db
from childcare.enrolment.models import Enrolment
from childcare.places.models import Community
from childcare.programmes.models import Allocation, EnrolmentMode, Programme, ProgrammeSession


def counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Community, Programme, ProgrammeSession, Child, Enrolment)}


def test_demo_load_builds_the_communities_with_programmes_sessions_and_families(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "13900000021" in result.output  # the demo accounts are printed with their passwords
    first = counts()
    names = set(db.session.scalars(sa.select(Community.name)))
    assert {"皮革城社区", "华源豪庭社区", "水塔社区", "杏北社区"} <= names
    assert first["ProgrammeSession"] > first["Programme"] >= 6
    assert first["Child"] == 3 and first["Enrolment"] == 3
    kinds = set(db.session.execute(sa.select(Programme.mode, Programme.allocation)))
    assert {(EnrolmentMode.WHOLE, Allocation.FIRST_COME), (EnrolmentMode.WHOLE, Allocation.DRAW),
            (EnrolmentMode.DAY, Allocation.FIRST_COME)} <= kinds  # each way of giving seats can be tried

    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0 and "(0 new records)" in again.output
    assert counts() == first


def test_the_home_page_lists_the_demo_programmes(app, client):
    assert app.test_cli_runner().invoke(args=["demo", "load"]).exit_code == 0
    page = client.get("/").get_data(as_text=True)
    assert "七色花成长营地" in page and "杏北社区" in page
