"""Children's data is sensitive: every route that names an object refuses everyone the object is not theirs to see.

Every route of the app whose address names an object (a child, an enrolment, a session's roster, a pickup person, an
invitation, a programme to manage, a volunteer's hours, a person, a place, a token, a leave, a QR code, an update or
its photo, ...), HTML page and `/api/v1` operation alike, is requested by people who must not reach that object:

- another guardian of the same community, whose own child is in another of its programmes;
- a volunteer of the same community who serves none of the sessions;
- a volunteer and a coordinator of another community;
- an anonymous visitor.

Each is answered "not found" (404), "forbidden" (403) only where they lack the route's role altogether (the API's
documented rule), or, when anonymous, a redirect to the login page (an HTML page) or 401. Never a page, never a
server error; the answer carries none of the object's sensitive values (a child's name, medical notes, a pickup
person's or a guardian's phone), and nothing stored changes. The person the object belongs to then gets their page on
the same address, so a 404 above is the rule's doing, not a broken fixture.

The worlds are those of the bad-input tests: `summer_afternoon` (杏北社区 on a summer afternoon) and the forms'
addresses for the HTML routes, the API operations' STORIES for `/api/v1`. Mixed addresses (the outsider's own child
with the family's pickup person, their own session with the family's child) are tried where a route nests two ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import url_for

from childcare.accounts.models import User
from childcare.accounts.services import national_phone
from childcare.children.models import Child, PickupPerson
from childcare.db import db
from childcare.enrolment.models import Enrolment
from childcare.extensions import limiter
from childcare.programmes.models import Programme
from childcare.updates import photos
from childcare.updates.models import DailyUpdate, UpdatePhoto
from tests.api.conftest import Api, make_token
from tests.api.test_every_operation_survives_bad_input import STORIES, Story, stored
from tests.conftest import csrf_token_from
from tests.enrolment.view_factories import ChildFactory, EnrolmentFactory, add_sessions
from tests.factories import CommunityFactory, CoordinatorFactory, ProgrammeFactory, UserFactory, VenueFactory
from tests.test_every_form_survives_bad_input import (
    FORMS,
    TODAY,
    Form,
    World,
    as_sent,
    sensible,
    summer_afternoon,  # noqa: F401  (a fixture: the world every HTML route is requested in)
)
from tests.volunteers.factories import ShiftFactory, volunteer_of

# ---- the outsiders ------------------------------------------------------------------------------------------------

#: who must not reach the objects of 杏北社区's family, camp and volunteers (None: an anonymous visitor)
OUTSIDERS = ["neighbour", "second_volunteer", "other_volunteer", "other_coordinator", None]
SECRET_NOTES = "青霉素过敏，哮喘发作时用喷雾"
SECRET_ALLERGY = "芒果过敏"
PHOTO_BYTES = b"\xff\xd8\xff\xe0 a child's face \xff\xd9"


def who(outsider: str | None) -> str:
    return outsider or "anonymous"


def add_outsiders(w: World) -> World:
    """Add the outsiders to the world, a photo to the update, and learn what must never leak from it."""
    neighbour = UserFactory(name="陈静")
    programme = db.session.get(Enrolment, w.seat).programme
    neighbours_child = ChildFactory(name="陈小东", guardian=neighbour)
    EnrolmentFactory(programme=ProgrammeFactory(community=programme.community, title="书法兴趣班"),
                     child=neighbours_child)
    elsewhere = CommunityFactory(name="水塔社区")
    other_coordinator = CoordinatorFactory(community=elsewhere, name="孙主任")
    other_volunteer = volunteer_of(elsewhere, name="周同学")
    # 水塔社区 runs its own camp this afternoon, served by its own volunteer
    their_camp = ProgrammeFactory(community=elsewhere, venue=VenueFactory(community=elsewhere), title="水塔夏令营",
                                  starts_on=programme.starts_on, ends_on=programme.ends_on,
                                  start_time=programme.start_time, end_time=programme.end_time)
    [their_session] = add_sessions(their_camp, 1, skip_days=(TODAY - programme.starts_on).days)
    ShiftFactory(session=their_session, volunteer=other_volunteer)

    child = db.session.get(Child, w.child)
    child.medical_notes, child.allergies = SECRET_NOTES, SECRET_ALLERGY
    photo = UpdatePhoto(update_id=w.update, position=0, storage_key=photos.new_storage_key(), width=1, height=1,
                        size_bytes=len(PHOTO_BYTES))
    db.session.add(photo)
    db.session.commit()
    photos.path_of(photo.storage_key).parent.mkdir(parents=True, exist_ok=True)
    photos.path_of(photo.storage_key).write_bytes(PHOTO_BYTES)
    w.ids["photo"] = photo.id

    w.logins.update({name: user.get_id() for name, user in (
        ("neighbour", neighbour), ("other_volunteer", other_volunteer), ("other_coordinator", other_coordinator))})
    w.ids.update(neighbour=neighbour.id, other_volunteer=other_volunteer.id, other_coordinator=other_coordinator.id,
                 neighbours_child=neighbours_child.id, their_camp=their_camp.id, their_session=their_session.id)
    return w


def secrets_of(w: World) -> list[str]:
    """The family's sensitive values: the children's names, medical notes, the pickup person's and guardians' phones,
    and what the volunteer wrote about the afternoon."""
    children = [db.session.get(Enrolment, w.ids[name]).child for name in ("seat", "offer", "pending")]
    grandma = db.session.get(PickupPerson, w.pickup_person)
    phones = [grandma.phone, db.session.get(User, w.guardian).phone, db.session.get(User, w.invitee).phone]
    update = db.session.get(DailyUpdate, w.update)
    return ([c.name for c in children] + [SECRET_NOTES, SECRET_ALLERGY, grandma.name, update.note] +
            [form for phone in phones for form in (phone, national_phone(phone))])


# ---- the routes ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One request naming an object: the person it belongs to, its address and what that person sends."""

    endpoint: str
    method: str
    actor: str
    address: Callable[[World], dict]
    data: Callable[[World], dict] = lambda w: {}
    before: Callable[[World], None] | None = None
    #: a route that answers everyone who asks (a public page, a code posted at the door), but never the family's data
    public: bool = False
    #: an outsider may get the page they would get anyway (their own inbox), as long as nothing changes
    quiet: bool = False
    label: str = ""

    @property
    def name(self) -> str:
        return f"{self.method} {self.endpoint}{self.label}"


def by(endpoint: str) -> Form:
    [form] = [form for form in FORMS if form.endpoint == endpoint and not form.label]
    return form


def posted(form: Form, **kwargs) -> Route:
    fields = form.fields
    return Route(form.endpoint, "POST", form.actor, form.address, lambda w: sensible(fields(w)), form.before,
                 label=form.label, **kwargs)


def page(endpoint: str, actor: str | None = None, address: Callable[[World], dict] | None = None, **kwargs) -> Route:
    """A page read with GET: the same address and person as its form, unless told."""
    form = None if actor and address else by(endpoint)
    return Route(endpoint, "GET", actor or form.actor, address or form.address, **kwargs)


#: the forms whose address names no object, but whose fields do
BODY_NAMES_THE_OBJECT = {"enrolment.request_leave", "notifications.mark_read"}
#: the object in the address is public and the family's object is in a field: the form refuses what is not offered
#: (someone else's child, someone else's notification) and shows the outsider's own page again
QUIET = {"enrolment.enrol", "notifications.mark_read",
         # a session is public (its programme's page lists it); claiming a post in it is refused by a rule (only the
         # community's approved volunteers), with a message on the board, as the API answers a rule with 422
         "volunteers.claim"}
#: outsiders who may use the route by design (none now)
PEERS: dict[str, set[str]] = {}
#: objects every holder of the role sees, so a refusal says why (403) rather than hiding them (404): the school
#: calendar (调休) is every community's, but an entry is removed only by whoever entered it, or an administrator
SHARED = {"programmes.delete_calendar_day"}
_ANYWHERE = World(ids=defaultdict(lambda: 1), qr_token="t")

ROUTES = [
    *(posted(form, quiet=form.endpoint in QUIET,
             public=form.endpoint == "attendance_qr.check_in")
      for form in FORMS if form.address(_ANYWHERE) or form.endpoint in BODY_NAMES_THE_OBJECT),
    # attendance: the roster and everything printed from it belong to the session's volunteers and coordinators
    page("attendance.roster", "volunteer", lambda w: {"session_id": w.now_session}),
    page("attendance.history", "coordinator", lambda w: {"session_id": w.now_session}),
    page("attendance_qr.show_code", "volunteer", lambda w: {"session_id": w.now_session}),
    page("attendance_qr.print_poster", "volunteer", lambda w: {"session_id": w.now_session}),
    page("attendance_paper.print_sheet", "volunteer", lambda w: {"session_id": w.now_session}),
    page("attendance_paper.enter_sheet"),
    # The code hangs at the door: anyone logged in may open it, and sees only their own children.
    page("attendance_qr.scan", "guardian", lambda w: {"token": w.qr_token}, public=True),
    # children
    page("children.show", "guardian", lambda w: {"child_id": w.child}),
    page("children.edit"),
    page("children.remove"),
    page("children.edit_pickup_person"),
    # enrolment: the coordinator's screens; the public programme page and draw (names masked) show no family data
    page("programmes.show", "coordinator", lambda w: {"programme_id": w.camp}),
    page("programmes.edit"),
    page("enrolment.manage_enrolments", "coordinator", lambda w: {"programme_id": w.camp}),
    page("enrolment.export_enrolments", "coordinator", lambda w: {"programme_id": w.camp}),
    page("enrolment.sign_up_poster", "coordinator", lambda w: {"programme_id": w.camp}),
    page("enrolment.edit_session"),
    page("enrolment.show_programme", "guardian", lambda w: {"programme_id": w.camp}, public=True),
    page("enrolment.show_draw", "guardian", lambda w: {"programme_id": w.camp}, public=True),
    # people and places
    page("people.show", "admin", lambda w: {"user_id": w.guardian}),
    page("places.edit_district"),
    page("places.edit_street"),
    page("places.edit_community"),
    page("places.edit_venue"),
    page("places.community", "guardian", lambda w: {"community_id": w.community}, public=True),
    # updates: a session's page is its staff's (the families read their feed); a photo is the families' and staff's
    page("updates.show_session", "volunteer", lambda w: {"session_id": w.now_session}),
    page("updates.show_photo", "guardian", lambda w: {"photo_id": w.photo}),
    # volunteers
    page("volunteers.manage_hours", "coordinator", lambda w: {"user_id": w.volunteer}),
]


def _their_child(w: World) -> dict:
    return {"child_id": w.neighbours_child}


def _their_session(w: World) -> dict:
    return {"session_id": w.their_session}


def _their_camp(w: World) -> dict:
    return {"programme_id": w.their_camp}


#: an address that joins the outsider's own object to the family's (their own child, the family's pickup person):
#: the outer id is theirs to use, so only the check that the inner object belongs to it stands in the way
#: endpoint -> (outsider, their own outer object, a page of it they may open: the proof that it is theirs)
MIXED = {
    **dict.fromkeys(("children.edit_pickup_person", "children.block_pickup_person", "children.unblock_pickup_person",
                     "children.remove_pickup_person", "children.cancel_invitation"),
                    ("neighbour", _their_child, "children.show")),
    **dict.fromkeys(("attendance.check_in", "attendance.mark_absent", "attendance.check_out"),
                    ("other_volunteer", _their_session, "attendance.roster")),
    "attendance.correct": ("other_coordinator", _their_session, "attendance.roster"),
    **dict.fromkeys(("enrolment.approve", "enrolment.remove", "enrolment.change_priority_group"),
                    ("other_coordinator", _their_camp, "enrolment.manage_enrolments")),
}

#: addresses that name no object of anyone's, or whose secret is in the address itself
NOT_OBJECTS = {
    "static": "the app's stylesheet and scripts",
    # The feed's address is its own credential (a calendar app cannot log in): who holds it may read it.
    "enrolment.calendar_feed": "a capability address: the token in it is the credential",
}


# ---- asking -------------------------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    location: str
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def ask(client, w: World, person: str | None, method: str, url: str, data: dict) -> Reply:
    """One request as the person (logged in as the forms' tests do), rolled back afterwards by the caller."""
    limiter.reset()
    client.delete_cookie("remember_token")
    with client.session_transaction() as session:
        session.pop("_user_id", None)
        session.pop("_flashes", None)
        if person is not None:
            session["_user_id"] = w.logins[person]
            session["_fresh"] = True
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data=as_sent(data, csrf_token_from(client, "/")))
    return Reply(response.status_code, response.headers.get("Location", ""), response.get_data())


def in_savepoint(fn: Callable[[], object]):
    """Run fn on the world and roll back what it did, as the forms' tests do between tries."""
    connection = db.session.get_bind()
    db.session.remove()
    savepoint = connection.begin_nested()
    try:
        return fn()
    finally:
        db.session.remove()
        savepoint.rollback()


def holds_role_of(app, endpoint: str, person: str, w: World) -> bool:
    """Whether the person holds a role the route asks for (then only 'not found' hides the object from them)."""
    roles = getattr(app.view_functions[endpoint], "required_roles", None)
    if roles is None:
        return True
    user = db.session.get(User, w.ids[person])
    return any(user.has_role(role) for role in roles)


def sent_to_login(reply: Reply) -> bool:
    return reply.status in (302, 303) and urlsplit(reply.location).path == "/account/login"


def leaks(body: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in body]


def refusal_problems(app, route: Route, person: str | None, reply: Reply, w: World) -> list[str]:
    """What is wrong with the answer an outsider got."""
    where = f"{route.name} as {who(person)}"
    if reply.status >= 500:
        return [f"{where}: a server error ({reply.status})"]
    if route.public or (route.quiet and person is not None):
        return [] if reply.status < 400 or reply.status in (401, 403, 404) or sent_to_login(reply) else [
            f"{where}: answered {reply.status}"]
    if person is None:
        ok = sent_to_login(reply) or reply.status == 401
    elif holds_role_of(app, route.endpoint, person, w):
        ok = reply.status == (403 if route.endpoint in SHARED else 404)
    else:
        ok = reply.status in (403, 404)
    return [] if ok else [f"{where}: answered {reply.status} {reply.location}".rstrip()]


@pytest.fixture
def afternoon(app, summer_afternoon) -> World:  # noqa: F811
    with app.app_context():
        world = add_outsiders(summer_afternoon)
    yield world
    with app.app_context():
        for photo in db.session.scalars(sa.select(UpdatePhoto)):
            photos.path_of(photo.storage_key).unlink(missing_ok=True)


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_an_outsider_is_refused_and_learns_nothing_and_changes_nothing(app, client, afternoon, route):
    w = afternoon
    with app.test_request_context():
        url = url_for(route.endpoint, **route.address(w))
    if route.before:
        with app.app_context():
            route.before(w)
    secrets = secrets_of(w)
    data = route.data(w)
    before = stored()
    found = []
    for person in OUTSIDERS:
        if person == route.actor or person in PEERS.get(route.endpoint, ()):
            continue

        def attempt(person=person):
            reply = ask(client, w, person, route.method, url, data)
            changed = stored() != before
            return reply, changed

        reply, changed = in_savepoint(attempt)
        found += refusal_problems(app, route, person, reply, w)
        if leaked := leaks(reply.text(), secrets) + (["the photo"] if PHOTO_BYTES in reply.body else []):
            found.append(f"{route.name} as {who(person)}: the answer ({reply.status}) shows {leaked}")
        if changed:
            found.append(f"{route.name} as {who(person)}: something stored changed ({reply.status})")
    if route.endpoint in MIXED:
        person, theirs, own_page = MIXED[route.endpoint]
        with app.test_request_context():
            mixed = url_for(route.endpoint, **{**route.address(w), **theirs(w)})
            own = url_for(own_page, **theirs(w))
        assert ask(client, w, person, "GET", own, {}).status == 200, f"{person} cannot open their own {own}"
        reply, changed = in_savepoint(lambda: (ask(client, w, person, route.method, mixed, data), stored() != before))
        where = f"{route.name} as {person} at {mixed} (their own {', '.join(theirs(w))})"
        if reply.status != 404:
            found.append(f"{where}: answered {reply.status} {reply.location}".rstrip())
        if leaked := leaks(reply.text(), secrets):
            found.append(f"{where}: the answer ({reply.status}) shows {leaked}")
        if changed:
            found.append(f"{where}: something stored changed ({reply.status})")
    assert not found, "\n".join(found)

    # The person it belongs to gets there on the same address: the refusals were the rule's doing.
    reply = in_savepoint(lambda: ask(client, w, route.actor, route.method, url, data))
    assert reply.status < 400 and not sent_to_login(reply), f"{route.name} as {route.actor}: {reply.status}"


# ---- the API ------------------------------------------------------------------------------------------------------

#: public information (a community's programme list is on its public page): anyone may read it, nothing of a child
API_PUBLIC = {"api.get_programme", "api.list_sessions"}
#: operations whose address names no object, but whose body names the guardian's children
API_BODY_NAMES_THE_OBJECT = {"create_enrolments", "request_leave"}
API_SECRET_NAME = "欧阳秘密"


#: the operations (STORIES) whose address names an object; the guard below holds this list to the app's URL map
API_ADDRESS_NAMES_THE_OBJECT = {"get_child", "update_child", "delete_child", "cancel_enrolment", "accept_offer",
                                "decline_offer", "update_programme", "list_programme_enrolments", "get_programme",
                                "list_sessions", "cancel_leave", "change_priority_group"}
API_OPERATIONS = sorted(API_ADDRESS_NAMES_THE_OBJECT | API_BODY_NAMES_THE_OBJECT)


def children_named_by(story_: Story) -> list[Child]:
    """The children the story's request is about (adding one to a programme that has none)."""
    ids = dict(story_.ids)
    body = story_.body or {}
    found = []
    if "child_id" in ids:
        found.append(db.session.get(Child, ids["child_id"]))
    if "enrolment_id" in ids:
        found.append(db.session.get(Enrolment, ids["enrolment_id"]).child)
    for child_id in [body.get("child_id"), *body.get("child_ids", [])]:
        if child_id is not None:
            found.append(db.session.get(Child, child_id))
    if "programme_id" in ids:
        programme = db.session.get(Programme, ids["programme_id"])
        found.append(EnrolmentFactory(programme=programme, child=ChildFactory()).child)
    return found


def api_outsiders(api, story_: Story, public: bool = False) -> dict[str, tuple[Api, set[int]]]:
    """Outsiders of the story, each with the statuses that refuse them."""
    neighbour = UserFactory(name="陈静")
    ChildFactory(name="陈小东", guardian=neighbour)
    idle = volunteer_of(CommunityFactory(), name="周同学")
    coordinator = CoordinatorFactory(community=CommunityFactory(), name="孙主任")
    is_guardians = "programme_id" not in story_.ids
    if public:
        return {name: (api(user), {200}) for name, user in (
            ("another guardian", neighbour), ("a volunteer who serves none of it", idle),
            ("a coordinator of another community", coordinator), ("anonymous", None))}
    return {
        "another guardian": (api(neighbour), {404} if is_guardians else {403, 404}),
        "a volunteer who serves none of it": (api(idle), {403, 404}),
        "a coordinator of another community": (api(coordinator), {403, 404} if is_guardians else {404}),
        "anonymous": (api(), {401}),
    }


@pytest.fixture
def api(client):
    def _api(user=None) -> Api:
        return Api(client, make_token(user) if user is not None else None)
    return _api


@pytest.mark.parametrize("operation_id", API_OPERATIONS)
def test_an_outsider_of_the_api_is_refused_and_learns_nothing_and_changes_nothing(app, api, operation_id):
    story_ = STORIES[operation_id](api)
    children = children_named_by(story_)
    for child in children:
        child.name, child.medical_notes = API_SECRET_NAME, SECRET_NOTES
        db.session.add(PickupPerson(child=child, name="李秀英", relation="外婆", phone="+8613911112222"))
    db.session.commit()
    secrets = [API_SECRET_NAME, SECRET_NOTES, "李秀英", "13911112222"]
    [rule] = [rule for rule in app.url_map.iter_rules() if rule.endpoint == f"api.{operation_id}"]
    [method] = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    with app.test_request_context():
        url = url_for(rule.endpoint, **story_.ids, **story_.query)
    found = []
    for name, (caller, statuses) in api_outsiders(api, story_, f"api.{operation_id}" in API_PUBLIC).items():
        before = stored()  # the outsiders' own tokens are new rows
        limiter.reset()
        response = caller.client.open(url, method=method, headers=caller.headers(), json=story_.body)
        where = f"{method} {url} ({operation_id}) as {name}"
        if response.status_code not in statuses:
            found.append(f"{where}: answered {response.status_code} {response.get_data(as_text=True)[:200]}")
        if leaked := leaks(response.get_data(as_text=True), secrets):
            found.append(f"{where}: the answer ({response.status_code}) shows {leaked}")
        if stored() != before:
            found.append(f"{where}: something stored changed ({response.status_code})")
    assert not found, "\n".join(found)

    # The story's own caller gets there on the same address: the refusals were the rule's doing.
    limiter.reset()
    response = story_.caller.client.open(url, method=method, headers=story_.caller.headers(), json=story_.body)
    assert 200 <= response.status_code < 300, response.get_json()


# ---- no route is left out -----------------------------------------------------------------------------------------


def test_every_route_that_names_an_object_is_requested_by_outsiders_here(app):
    """A new route whose address names an object fails here until it has a case above."""
    routes = {(rule.endpoint, method, tuple(sorted(rule.arguments)))
              for rule in app.url_map.iter_rules() if rule.arguments and rule.endpoint not in NOT_OBJECTS
              for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})}
    covered = {(route.endpoint, route.method, tuple(sorted(route.address(_ANYWHERE)))) for route in ROUTES}
    api_rules = {rule.endpoint: rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")}
    for op in API_OPERATIONS:
        rule = api_rules[f"api.{op}"]
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            covered.add((rule.endpoint, method, tuple(sorted(rule.arguments))))
    missing = routes - covered
    assert not missing, f"routes naming an object that no outsider requests here: {sorted(missing)}"
    assert len({route.name for route in ROUTES}) == len(ROUTES), "each route is listed once"
