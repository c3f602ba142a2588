"""The home page, each community's public page, and the screens where places are managed."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from childcare.accounts.models import Role
from childcare.accounts.permissions import ensure_manages_community, managed_community_ids, role_required
from childcare.db import db, unit_of_work
from childcare.errors import DomainError, refuse_on_form
from childcare.places import queries, services
from childcare.places.forms import (
    CommunityForm,
    DistrictForm,
    NewCommunityForm,
    NewStreetForm,
    NewVenueForm,
    StreetForm,
    VenueForm,
)
from childcare.places.models import Community, District, Street, Venue
from childcare.programmes.queries import published_programmes
from childcare.security import public

bp = Blueprint("places", __name__)

MANAGERS = (Role.COORDINATOR, Role.ADMIN)


@bp.get("/")
@public
def home():
    districts = queries.districts_with_communities()
    by_community = defaultdict(list)
    for programme in published_programmes():
        by_community[programme.community_id].append(programme)
    return render_template("places/home.html", districts=districts, programmes=by_community)


@bp.get("/communities/<int:community_id>")
@public
def community(community_id: int):
    found = queries.get_community(community_id)
    if found is None:
        abort(404)
    return render_template("places/community.html", community=found,
                           programmes=published_programmes([community_id]))


# ---- managing places --------------------------------------------------------------------------------------------

Tree = list[tuple[District, list[tuple[Street, list[Community]]]]]


def _visible_tree(community_ids: set[int] | None) -> Tree:
    """District → street → community, cut down to the given communities (None: everything, empty levels too)."""
    tree: Tree = []
    for district in queries.districts_with_communities():
        streets = [(street, [c for c in street.communities if community_ids is None or c.id in community_ids])
                   for street in district.streets]
        if community_ids is not None:
            streets = [(street, communities) for street, communities in streets if communities]
            if not streets:
                continue
        tree.append((district, streets))
    return tree


def _venues_by_community(community_ids: list[int]) -> dict[int, list[Venue]]:
    """Every venue of the listed communities in one query."""
    found: dict[int, list[Venue]] = defaultdict(list)
    if community_ids:
        query = sa.select(Venue).where(Venue.community_id.in_(community_ids)).order_by(Venue.name)
        for venue in db.session.scalars(query):
            found[venue.community_id].append(venue)
    return found


def _placeholder() -> SelectChoice:
    return SelectChoice(value="", label=_("Choose…"))




def _manage_page(*, district_form: DistrictForm | None = None, street_form: NewStreetForm | None = None,
                 community_form: NewCommunityForm | None = None, venue_form: NewVenueForm | None = None):
    """The tree with its add forms; the form that was just sent comes back with its errors."""
    community_ids = managed_community_ids(current_user)
    is_admin = community_ids is None
    tree = _visible_tree(community_ids)
    communities = [(street, c) for _district, streets in tree for street, cs in streets for c in cs]
    venues = _venues_by_community([c.id for _street, c in communities])
    preselect = {key: request.args.get(key, type=int) for key in ("district_id", "street_id", "community_id")}

    venue_form = venue_form or NewVenueForm(formdata=None, community_id=preselect["community_id"])
    venue_form.community_id.choices = [_placeholder()] + [
        SelectChoice(value=c.id, label=f"{street.name} · {c.name}") for street, c in communities]
    forms = {"venue_form": venue_form}
    if is_admin:
        street_form = street_form or NewStreetForm(formdata=None, district_id=preselect["district_id"])
        street_form.district_id.choices = [_placeholder()] + [
            SelectChoice(value=d.id, label=f"{d.city} {d.name}".strip()) for d, _streets in tree]
        community_form = community_form or NewCommunityForm(formdata=None, street_id=preselect["street_id"])
        community_form.street_id.choices = [_placeholder()] + [
            SelectChoice(value=s.id, label=f"{d.name} · {s.name}") for d, streets in tree for s, _cs in streets]
        forms.update(district_form=district_form or DistrictForm(formdata=None), street_form=street_form,
                     community_form=community_form)
    opened = {name for name, key in (("street", "district_id"), ("community", "street_id"),
                                     ("venue", "community_id")) if preselect[key]}
    return render_template("places/manage/tree.html", tree=tree, venues=venues, is_admin=is_admin,
                           opened=opened, **forms)


@bp.get("/manage/places/")
@role_required(*MANAGERS)
def manage():
    return _manage_page()


@bp.post("/manage/places/districts")
@role_required(Role.ADMIN)
def add_district():
    form = DistrictForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                district = services.create_district(actor=current_user, name=form.name.data, kind=form.kind.data,
                                                    city=form.city.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("%(name)s has been added.", name=district.name), "success")
            return redirect(url_for("places.manage", _anchor=f"district-{district.id}"))
    return _manage_page(district_form=form)


@bp.post("/manage/places/streets")
@role_required(Role.ADMIN)
def add_street():
    form = NewStreetForm()
    if form.validate_on_submit():
        district = db.get_or_404(District, form.district_id.data)
        try:
            with unit_of_work():
                street = services.create_street(actor=current_user, district=district, name=form.name.data,
                                                kind=form.kind.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("%(name)s has been added.", name=street.name), "success")
            return redirect(url_for("places.manage", _anchor=f"street-{street.id}"))
    return _manage_page(street_form=form)


@bp.post("/manage/places/communities")
@role_required(Role.ADMIN)
def add_community():
    form = NewCommunityForm()
    if form.validate_on_submit():
        street = db.get_or_404(Street, form.street_id.data)
        try:
            with unit_of_work():
                community = services.create_community(
                    actor=current_user, street=street, name=form.name.data, address=form.address.data,
                    description=form.description.data, contact_phone=form.contact_phone.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("%(name)s has been added.", name=community.name), "success")
            return redirect(url_for("places.manage", _anchor=f"community-{community.id}"))
    return _manage_page(community_form=form)


@bp.post("/manage/places/venues")
@role_required(*MANAGERS)
def add_venue():
    form = NewVenueForm()
    if form.validate_on_submit():
        community = db.get_or_404(Community, form.community_id.data)
        try:
            with unit_of_work():
                venue = services.create_venue(actor=current_user, community=community, name=form.name.data,
                                              address=form.address.data, capacity=form.capacity.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("%(name)s has been added.", name=venue.name), "success")
            return redirect(url_for("places.manage", _anchor=f"venue-{venue.id}"))
    return _manage_page(venue_form=form)


def _edit_page(form, *, heading: str, fields: list, anchor: str, public_url: str | None = None):
    return render_template("places/manage/edit.html", form=form, heading=heading, fields=fields,
                           back=url_for("places.manage", _anchor=anchor), public_url=public_url)


@bp.route("/manage/places/districts/<int:district_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_district(district_id: int):
    district = db.get_or_404(District, district_id)
    form = DistrictForm(obj=district)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.update_district(actor=current_user, district=district, name=form.name.data,
                                         kind=form.kind.data, city=form.city.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("Your changes have been saved."), "success")
            return redirect(url_for("places.manage", _anchor=f"district-{district_id}"))
    return _edit_page(form, heading=_("Edit district or county"), fields=[form.name, form.kind, form.city],
                      anchor=f"district-{district_id}")


@bp.route("/manage/places/streets/<int:street_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_street(street_id: int):
    street = db.get_or_404(Street, street_id)
    form = StreetForm(obj=street)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.update_street(actor=current_user, street=street, name=form.name.data, kind=form.kind.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("Your changes have been saved."), "success")
            return redirect(url_for("places.manage", _anchor=f"street-{street_id}"))
    return _edit_page(form, heading=_("Edit street or town"), fields=[form.name, form.kind],
                      anchor=f"street-{street_id}")


@bp.route("/manage/places/communities/<int:community_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_community(community_id: int):
    community = db.get_or_404(Community, community_id)
    form = CommunityForm(obj=community)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.update_community(actor=current_user, community=community, name=form.name.data,
                                          address=form.address.data, description=form.description.data,
                                          contact_phone=form.contact_phone.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("Your changes have been saved."), "success")
            return redirect(url_for("places.manage", _anchor=f"community-{community_id}"))
    return _edit_page(form, heading=_("Edit community"),
                      fields=[form.name, form.address, form.contact_phone, form.description],
                      anchor=f"community-{community_id}",
                      public_url=url_for("places.community", community_id=community_id))


@bp.route("/manage/places/venues/<int:venue_id>/edit", methods=["GET", "POST"])
@role_required(*MANAGERS)
def edit_venue(venue_id: int):
    venue = db.get_or_404(Venue, venue_id)
    # Reading the form shows the venue, so the reader must manage it; the service checks again on saving.
    ensure_manages_community(current_user, venue.community_id, hide=True)
    form = VenueForm(obj=venue)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.update_venue(actor=current_user, venue=venue, name=form.name.data,
                                      address=form.address.data, capacity=form.capacity.data)
        except DomainError as error:
            refuse_on_form(form, error)
        else:
            flash(_("Your changes have been saved."), "success")
            return redirect(url_for("places.manage", _anchor=f"venue-{venue_id}"))
    return _edit_page(form, heading=_("Edit venue"), fields=[form.name, form.address, form.capacity],
                      anchor=f"venue-{venue_id}",
                      public_url=url_for("places.community", community_id=venue.community_id))
