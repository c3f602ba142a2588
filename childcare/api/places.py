"""Communities, public: anyone may see where programmes run."""

from __future__ import annotations

from childcare.api.schemas import CommunityOut, Page
from childcare.api.views import endpoint, respond
from childcare.db import unit_of_work
from childcare.places import queries


@endpoint("/communities", "GET", summary="List communities", tag="places", auth=False,
          response=Page[CommunityOut])
def list_communities():
    """Every community with its street or town and its district, ordered by district, street and name."""
    with unit_of_work():
        items = [CommunityOut(id=c.id, name=c.name, address=c.address, street=c.street.name,
                              street_kind=c.street.kind, district=c.street.district.name,
                              city=c.street.district.city)
                 for c in queries.all_communities()]
    return respond(Page[CommunityOut](items=items))
