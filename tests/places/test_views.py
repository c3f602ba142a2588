"""Managing places through the forms: administrators everywhere, coordinators in their own communities."""

import re

import sqlalchemy as sa

from childcare.audit.models import AuditEntry
from childcare.db import db
from childcare.places.models import Community, District, Street, Venue
from tests.factories import (
    AdminFactory,
    CommunityFactory,
    CoordinatorFactory,
    DistrictFactory,
    StreetFactory,
    UserFactory,
    VenueFactory,
)

MANAGE = "/manage/places/"


def _one(model, **where):
    return db.session.scalar(sa.select(model).filter_by(**where))


def test_an_admin_sets_up_a_district_street_community_and_venue_through_the_forms(client, login_as, post_form):
    login_as(AdminFactory())
    response = post_form("/manage/places/districts", {"name": "盐湖区", "kind": "district", "city": "运城市"},
                         token_from=MANAGE)
    assert response.status_code == 302
    district = _one(District, name="盐湖区")
    assert district is not None and district.city == "运城市"

    response = post_form("/manage/places/streets", {"district_id": district.id, "name": "姚孟街道", "kind": "street"},
                         token_from=MANAGE)
    assert response.status_code == 302
    street = _one(Street, name="姚孟街道")
    assert street.district_id == district.id

    response = post_form("/manage/places/communities",
                         {"street_id": street.id, "name": "杏北社区", "address": "杏北路1号",
                          "contact_phone": "0359-2123456", "description": "四点半课堂在二楼"}, token_from=MANAGE)
    assert response.status_code == 302
    community = _one(Community, name="杏北社区")
    assert community.street_id == street.id and community.contact_phone == "0359-2123456"

    response = post_form("/manage/places/venues",
                         {"community_id": community.id, "name": "二楼活动室", "capacity": "20"},
                         token_from=MANAGE, follow_redirects=True)
    assert response.status_code == 200
    venue = _one(Venue, name="二楼活动室")
    assert venue.community_id == community.id and venue.capacity == 20
    page = response.get_data(as_text=True)
    for name in ("盐湖区", "姚孟街道", "杏北社区", "二楼活动室"):
        assert name in page

    actions = set(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.startswith("places."))))
    assert actions == {"places.district_created", "places.street_created", "places.community_created",
                       "places.venue_created"}


def test_an_admin_edits_a_community(client, login_as, post_form):
    login_as(AdminFactory())
    community = CommunityFactory(name="杏北社区")
    url = f"/manage/places/communities/{community.id}/edit"
    assert "杏北社区" in client.get(url).get_data(as_text=True)
    response = post_form(url, {"name": "杏北社区", "address": "新地址", "contact_phone": "", "description": ""})
    assert response.status_code == 302
    assert db.session.get(Community, community.id).address == "新地址"
    entry = _one(AuditEntry, action="places.community_updated")
    assert entry.after == {"address": "新地址"} and entry.community_id == community.id


def test_a_duplicate_name_is_shown_as_a_form_error_not_a_server_error(client, login_as, post_form):
    client.set_cookie("lang", "en")
    login_as(AdminFactory())
    street = StreetFactory()
    CommunityFactory(street=street, name="水塔社区")
    response = post_form("/manage/places/communities", {"street_id": street.id, "name": "水塔社区"},
                         token_from=MANAGE)
    assert response.status_code == 200
    assert "This street already has a community with this name." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Community.id)).where(Community.name == "水塔社区")) == 1


def test_a_duplicate_district_is_refused_on_its_form(client, login_as, post_form):
    client.set_cookie("lang", "en")
    login_as(AdminFactory())
    DistrictFactory(name="盐湖区")
    response = post_form("/manage/places/districts", {"name": "盐湖区", "kind": "district"}, token_from=MANAGE)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "A district or county with this name already exists." in page
    assert re.search(r'<details class="card" id="add-district" open>', page)


def test_renaming_a_venue_to_a_taken_name_is_a_form_error(client, login_as, post_form):
    client.set_cookie("lang", "en")
    community = CommunityFactory()
    VenueFactory(community=community, name="一楼")
    venue = VenueFactory(community=community, name="二楼")
    login_as(CoordinatorFactory(community=community))
    response = post_form(f"/manage/places/venues/{venue.id}/edit", {"name": "一楼"})
    assert response.status_code == 200
    assert "This community already has a venue with this name." in response.get_data(as_text=True)
    assert db.session.get(Venue, venue.id).name == "二楼"


def test_a_coordinator_adds_a_venue_to_their_community_only(client, login_as, post_form):
    mine, other = CommunityFactory(name="杏北社区"), CommunityFactory(name="水塔社区")
    login_as(CoordinatorFactory(community=mine))

    page = client.get(MANAGE).get_data(as_text=True)
    assert "杏北社区" in page and "水塔社区" not in page
    assert 'action="/manage/places/communities"' not in page

    response = post_form("/manage/places/venues", {"community_id": mine.id, "name": "四点半课堂教室"},
                         token_from=MANAGE)
    assert response.status_code == 302
    assert _one(Venue, name="四点半课堂教室").community_id == mine.id

    response = post_form("/manage/places/venues", {"community_id": other.id, "name": "别人的教室"}, token_from=MANAGE)
    assert response.status_code in (403, 404)
    assert _one(Venue, name="别人的教室") is None


def test_a_coordinator_cannot_edit_another_communitys_venue(client, login_as, post_form):
    other_venue = VenueFactory(name="别人的教室")
    login_as(CoordinatorFactory())
    url = f"/manage/places/venues/{other_venue.id}/edit"
    assert client.get(url).status_code == 404
    response = post_form(url, {"name": "改名"}, token_from=MANAGE)
    assert response.status_code == 404
    assert db.session.get(Venue, other_venue.id).name == "别人的教室"


def test_a_coordinator_cannot_create_or_edit_districts_streets_or_communities(client, login_as, post_form):
    community = CommunityFactory()
    login_as(CoordinatorFactory(community=community))
    street = community.street
    assert post_form("/manage/places/communities", {"street_id": street.id, "name": "新社区"},
                     token_from=MANAGE).status_code == 403
    assert post_form("/manage/places/districts", {"name": "新区"}, token_from=MANAGE).status_code == 403
    assert post_form("/manage/places/streets", {"district_id": street.district_id, "name": "新街道"},
                     token_from=MANAGE).status_code == 403
    assert client.get(f"/manage/places/communities/{community.id}/edit").status_code == 403
    assert _one(Community, name="新社区") is None


def test_a_guardian_may_not_open_the_places_screen(client, login_as):
    login_as(UserFactory())
    assert client.get(MANAGE).status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(MANAGE)
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_the_public_community_page_lists_its_venues_for_anyone(client):
    community = CommunityFactory(name="杏北社区")
    VenueFactory(community=community, name="党群服务中心二楼")
    VenueFactory(community=community, name="阅览室")
    VenueFactory(community=community, name="多功能室")
    response = client.get(f"/communities/{community.id}")
    assert response.status_code == 200
    listed = re.search(r"<dd>([^<]*阅览室[^<]*)</dd>", response.get_data(as_text=True)).group(1)
    first, rest = listed.split("、")
    assert {first, *rest.split("和")} == {"党群服务中心二楼", "阅览室", "多功能室"}  # as Chinese lists them


def test_the_nav_shows_places_to_coordinators_and_people_to_admins_only(client, login_as):
    client.set_cookie("lang", "en")
    login_as(CoordinatorFactory())
    page = client.get("/").get_data(as_text=True)
    assert 'href="/manage/places/"' in page and 'href="/manage/people/"' not in page
    login_as(AdminFactory())
    page = client.get("/").get_data(as_text=True)
    assert 'href="/manage/places/"' in page and 'href="/manage/people/"' in page


def test_the_places_tree_takes_a_bounded_number_of_queries(client, login_as, count_queries):
    admin = AdminFactory()
    for _ in range(3):
        street = StreetFactory()
        for _ in range(3):
            VenueFactory(community=CommunityFactory(street=street))
    login_as(admin)
    with count_queries() as n:
        response = client.get(MANAGE)
    assert response.status_code == 200
    assert n() <= 9


def test_an_admin_renames_a_district_and_a_street(client, login_as, post_form):
    login_as(AdminFactory())
    street = StreetFactory(name="姚孟街道")
    district_url = f"/manage/places/districts/{street.district_id}/edit"
    assert post_form(district_url, {"name": "盐湖区", "kind": "district", "city": "运城市"}).status_code == 302
    street_url = f"/manage/places/streets/{street.id}/edit"
    assert post_form(street_url, {"name": "龙泉镇", "kind": "town"}).status_code == 302
    assert db.session.get(District, street.district_id).name == "盐湖区"
    renamed = db.session.get(Street, street.id)
    assert renamed.name == "龙泉镇" and renamed.kind.value == "town"
    assert _one(AuditEntry, action="places.street_updated").before == {"name": "姚孟街道", "kind": "street"}


def test_a_zero_capacity_is_refused_on_the_capacity_field(client, login_as, post_form):
    client.set_cookie("lang", "en")
    community = CommunityFactory()
    login_as(CoordinatorFactory(community=community))
    response = post_form("/manage/places/venues", {"community_id": community.id, "name": "活动室", "capacity": "0"},
                         token_from=MANAGE)
    assert response.status_code == 200
    assert 'id="venue-capacity-error"' in response.get_data(as_text=True)
    assert _one(Venue, name="活动室") is None


def test_a_missing_name_and_an_unknown_community_are_answered_politely(client, login_as, post_form):
    client.set_cookie("lang", "en")
    login_as(AdminFactory())
    response = post_form("/manage/places/districts", {"name": " ", "kind": "district"}, token_from=MANAGE)
    assert response.status_code == 200 and 'id="district-name-error"' in response.get_data(as_text=True)
    response = post_form("/manage/places/venues", {"community_id": 999999, "name": "活动室"}, token_from=MANAGE)
    assert response.status_code == 404
