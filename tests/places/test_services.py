"""An administrator sets up districts, streets and communities; a coordinator adds rooms to their own community."""

import pytest
import sqlalchemy as sa

from childcare.audit.models import AuditEntry
from childcare.db import db
from childcare.errors import Forbidden, NotFound
from childcare.places import services
from childcare.places.models import DistrictKind, StreetKind, Venue
from childcare.places.services import InvalidPlace, PlaceNameTaken
from tests.factories import (
    AdminFactory,
    CommunityFactory,
    CoordinatorFactory,
    DistrictFactory,
    StreetFactory,
    UserFactory,
    VenueFactory,
)


def _entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_an_admin_builds_the_tree_from_district_to_venue_and_each_step_is_audited(app_ctx):
    admin = AdminFactory()
    district = services.create_district(actor=admin, name=" 盐湖区 ", kind="district", city="运城市")
    street = services.create_street(actor=admin, district=district, name="姚孟街道", kind=StreetKind.STREET)
    community = services.create_community(actor=admin, street=street, name="杏北社区", address="杏北路1号",
                                          contact_phone="0359-2123456", description="31个小区")
    venue = services.create_venue(actor=admin, community=community, name="党群服务中心二楼", capacity=20)

    assert district.name == "盐湖区" and district.kind == DistrictKind.DISTRICT and district.city == "运城市"
    assert community.street.district is district
    assert venue.community_id == community.id and venue.capacity == 20
    created = _entries("places.community_created")
    assert len(created) == 1 and created[0].community_id == community.id and created[0].actor_id == admin.id
    assert created[0].after["name"] == "杏北社区"
    for action in ("places.district_created", "places.street_created", "places.venue_created"):
        assert len(_entries(action)) == 1
    assert _entries("places.venue_created")[0].community_id == community.id


def test_blank_names_are_refused_on_the_name_field(app_ctx):
    admin = AdminFactory()
    with pytest.raises(InvalidPlace) as refused:
        services.create_district(actor=admin, name="   ")
    assert refused.value.field == "name"


def test_names_longer_than_the_column_are_refused(app_ctx):
    admin = AdminFactory()
    street = StreetFactory()
    with pytest.raises(InvalidPlace) as refused:
        services.create_community(actor=admin, street=street, name="社" * 61)
    assert refused.value.field == "name" and "60" in refused.value.detail


def test_a_second_district_with_the_same_name_is_refused_and_the_transaction_stays_usable(app_ctx):
    admin = AdminFactory()
    services.create_district(actor=admin, name="盐湖区")
    with pytest.raises(PlaceNameTaken) as refused:
        services.create_district(actor=admin, name="盐湖区")
    assert refused.value.field == "name"
    # The SAVEPOINT took the failed insert away; the rest of the unit of work can go on.
    assert services.create_district(actor=admin, name="永济市", kind=DistrictKind.CITY).id


def test_the_same_street_name_is_allowed_in_another_district_but_not_twice_in_one(app_ctx):
    admin = AdminFactory()
    first, second = DistrictFactory(), DistrictFactory()
    services.create_street(actor=admin, district=first, name="安邑街道")
    assert services.create_street(actor=admin, district=second, name="安邑街道").id
    with pytest.raises(PlaceNameTaken):
        services.create_street(actor=admin, district=first, name="安邑街道")


def test_renaming_a_community_to_a_neighbours_name_is_refused(app_ctx):
    admin = AdminFactory()
    street = StreetFactory()
    CommunityFactory(street=street, name="水塔社区")
    community = CommunityFactory(street=street, name="杏北社区")
    with pytest.raises(PlaceNameTaken):
        services.update_community(actor=admin, community=community, name="水塔社区")
    assert db.session.get(type(community), community.id).name == "杏北社区"


def test_renaming_records_only_what_changed(app_ctx):
    admin = AdminFactory()
    venue = VenueFactory(name="活动室", capacity=15)
    services.update_venue(actor=admin, venue=venue, name="二楼活动室", capacity=15)
    entry = _entries("places.venue_updated")[0]
    assert entry.before == {"name": "活动室"} and entry.after == {"name": "二楼活动室"}
    services.update_venue(actor=admin, venue=venue, name="二楼活动室", capacity=15)
    assert len(_entries("places.venue_updated")) == 1


def test_a_coordinator_adds_a_venue_to_their_community_but_not_to_another(app_ctx):
    mine, other = CommunityFactory(), CommunityFactory()
    coordinator = CoordinatorFactory(community=mine)
    venue = services.create_venue(actor=coordinator, community=mine, name="四点半课堂教室", capacity=30)
    assert venue.id
    with pytest.raises(NotFound):
        services.create_venue(actor=coordinator, community=other, name="四点半课堂教室")
    with pytest.raises(NotFound):
        services.update_venue(actor=coordinator, venue=VenueFactory(community=other), name="改名")
    assert db.session.scalar(sa.select(sa.func.count(Venue.id)).where(Venue.community_id == other.id)) == 1


def test_only_administrators_create_districts_streets_and_communities(app_ctx):
    community = CommunityFactory()
    coordinator = CoordinatorFactory(community=community)
    guardian = UserFactory()
    with pytest.raises(Forbidden):
        services.create_district(actor=coordinator, name="壶关县")
    with pytest.raises(Forbidden):
        services.create_street(actor=guardian, district=community.street.district, name="龙泉镇")
    with pytest.raises(Forbidden):
        services.create_community(actor=coordinator, street=community.street, name="新社区")
    with pytest.raises(Forbidden):
        services.update_community(actor=coordinator, community=community, name="改名")


def test_a_venue_capacity_must_be_positive(app_ctx):
    admin = AdminFactory()
    with pytest.raises(InvalidPlace) as refused:
        services.create_venue(actor=admin, community=CommunityFactory(), name="活动室", capacity=0)
    assert refused.value.field == "capacity"


def test_a_contact_phone_with_letters_is_refused(app_ctx):
    admin = AdminFactory()
    with pytest.raises(InvalidPlace) as refused:
        services.create_community(actor=admin, street=StreetFactory(), name="杏北社区", contact_phone="call me")
    assert refused.value.field == "contact_phone"
