"""Every page a person opens can be read by a screen reader: no id used twice, every label names its own control.

A label whose `for` names an id that is also a section's (or another form's hidden field's) labels nothing: the
phone's screen reader then reads a bare text box, and tapping the label does not reach the field. The pages are
those of the outsiders' test, opened by the person they belong to, the pages that carry a form, and every page
without an object in its address, opened by each of the afternoon's people who may see it.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from flask import url_for

from tests.test_every_form_survives_bad_input import (
    FORMS,
    summer_afternoon,  # noqa: F401  (a fixture: the afternoon's world, which the next one fills with outsiders)
)
from tests.test_every_route_refuses_outsiders import (
    ROUTES,
    afternoon,  # noqa: F401  (a fixture: the world the pages are opened in)
    ask,
    in_savepoint,
)

#: elements a label can name (HTML's "labelable elements"; a hidden input is not one)
LABELABLE = {"button", "input", "meter", "output", "progress", "select", "textarea"}
PEOPLE = ["guardian", "volunteer", "coordinator", "admin"]


class PageShape(HTMLParser):
    """The ids of a page, which of them name labelable controls, and what each label names."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.controls: set[str] = set()
        self.label_targets: list[str] = []
        self.form = 0
        #: (form, name) -> whether each checkbox of that name is required
        self.checkboxes: dict[tuple[int, str], list[bool]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.form += 1
        if tag == "input" and values.get("type") == "checkbox" and values.get("name"):
            self.checkboxes.setdefault((self.form, values["name"]), []).append("required" in values)
        if values.get("id"):
            self.ids.append(values["id"])
            if tag in LABELABLE and not (tag == "input" and values.get("type") == "hidden"):
                self.controls.add(values["id"])
        if tag == "label" and values.get("for"):
            self.label_targets.append(values["for"])

    def problems(self) -> list[str]:
        found = sorted({f"id {i!r} is used {self.ids.count(i)} times" for i in self.ids if self.ids.count(i) > 1})
        found += [f"a label names {target!r}, which is no form control" for target in self.label_targets
                  if target not in self.controls]
        # A browser reads `required` on a box as "this box must be ticked": on one of several, it demands them all.
        found += [f"the boxes named {name!r} are required one by one" for (_form, name), required
                  in self.checkboxes.items() if len(required) > 1 and any(required)]
        return found


def shape_problems(html: str) -> list[str]:
    shape = PageShape()
    shape.feed(html)
    return shape.problems()


def test_the_checker_finds_a_label_that_names_a_section():
    page = '<section id="capacity"><label for="capacity">名额</label><input id="capacity" name="capacity"></section>'
    assert shape_problems(page) == ["id 'capacity' is used 2 times"]
    assert shape_problems('<label for="x">名额</label><input type="hidden" id="x">') == [
        "a label names 'x', which is no form control"]
    assert shape_problems('<label for="x">名额</label><input id="x"><input type="hidden" id="y">') == []


def test_the_checker_finds_boxes_that_are_each_required():
    boxes = '<form><input type="checkbox" name="child_ids" required><input type="checkbox" name="child_ids"></form>'
    assert shape_problems(boxes) == ["the boxes named 'child_ids' are required one by one"]
    one_each = '<form><input type="checkbox" name="ok" required></form>'
    assert shape_problems(one_each * 2) == []  # one consent box in each of two forms


OBJECT_PAGES = [(route.endpoint, route.actor, route.address) for route in ROUTES if route.method == "GET"]
FORM_PAGES = [(form.endpoint, form.actor, form.address) for form in FORMS if form.actor and not form.label]
#: pages whose shape depends on what the person has: the sign-up form of a family of three, all free to book
FAMILY_PAGES = [("enrolment.show_programme", "guardian", lambda w: {"programme_id": w.day_camp})]


def _pages_without_an_object(app) -> list[str]:
    return sorted(rule.endpoint for rule in app.url_map.iter_rules()
                  if "GET" in rule.methods and not rule.arguments and not rule.endpoint.startswith(("api.", "static")))


def _check(app, client, w, person: str, endpoint: str, address: dict, found: list[str], *, must_open: bool) -> None:
    with app.test_request_context():
        url = url_for(endpoint, **address)
    reply = in_savepoint(lambda: ask(client, w, person, "GET", url, {}))
    if reply.status != 200 or not reply.text().lstrip().lower().startswith("<!doctype html"):
        if must_open and reply.status >= 400:
            found.append(f"{url} as {person}: {reply.status}")
        return
    found += [f"{url} as {person}: {problem}" for problem in shape_problems(reply.text())]


def test_every_page_is_well_formed_for_the_person_who_opens_it(app, client, afternoon):  # noqa: F811
    w = afternoon
    found: list[str] = []
    for endpoint, person, address in OBJECT_PAGES + FAMILY_PAGES:
        _check(app, client, w, person, endpoint, address(w), found, must_open=True)
    for endpoint, person, address in FORM_PAGES:
        if "GET" in next(app.url_map.iter_rules(endpoint)).methods:
            _check(app, client, w, person, endpoint, address(w), found, must_open=False)
    for endpoint in _pages_without_an_object(app):
        for person in PEOPLE:
            _check(app, client, w, person, endpoint, {}, found, must_open=False)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("endpoint", ["accounts.login", "accounts.register", "places.home", "enrolment.browse"])
def test_the_public_pages_are_well_formed(app, client, endpoint):
    with app.test_request_context():
        url = url_for(endpoint)
    response = client.get(url)
    assert response.status_code == 200
    assert shape_problems(response.get_data(as_text=True)) == []
