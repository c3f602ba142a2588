"""The home page and each community's public page."""

from __future__ import annotations

from collections import defaultdict

from flask import Blueprint, abort, render_template

from childcare.places import queries
from childcare.programmes.queries import published_programmes
from childcare.security import public

bp = Blueprint("places", __name__)


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
