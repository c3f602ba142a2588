"""Where things happen: district/county → street/town → community → venue."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from childcare.db import db, str_enum, utcnow


class DistrictKind(enum.StrEnum):
    """A city's district (区), county (县) or county-level city (县级市)."""

    DISTRICT = "district"
    COUNTY = "county"
    CITY = "city"

    @property
    def title(self) -> str:
        return str({DistrictKind.DISTRICT: _l("District"), DistrictKind.COUNTY: _l("County"),
                    DistrictKind.CITY: _l("County-level city")}[self])


class StreetKind(enum.StrEnum):
    """A sub-district (街道) or a town (镇)."""

    STREET = "street"
    TOWN = "town"

    @property
    def title(self) -> str:
        return str({StreetKind.STREET: _l("Street"), StreetKind.TOWN: _l("Town")}[self])


class District(db.Model):
    """A district or county of a city."""

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    kind: Mapped[DistrictKind] = mapped_column(str_enum(DistrictKind), default=DistrictKind.DISTRICT)
    #: the prefecture-level city, e.g. 运城市
    city: Mapped[str] = mapped_column(sa.String(60), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    streets: Mapped[list[Street]] = relationship(back_populates="district", order_by="Street.name")


class Street(db.Model):
    """A street (sub-district) or town within a district."""

    __tablename__ = "streets"
    __table_args__ = (sa.UniqueConstraint("district_id", "name", name="uq_streets_district_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(sa.ForeignKey("districts.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    kind: Mapped[StreetKind] = mapped_column(str_enum(StreetKind), default=StreetKind.STREET)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    district: Mapped[District] = relationship(back_populates="streets")
    communities: Mapped[list[Community]] = relationship(back_populates="street", order_by="Community.name")


class Community(db.Model):
    """A residential community (社区), which runs the programmes."""

    __tablename__ = "communities"
    __table_args__ = (sa.UniqueConstraint("street_id", "name", name="uq_communities_street_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("streets.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    address: Mapped[str] = mapped_column(sa.String(200), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: a phone number parents may call, shown on the public page
    contact_phone: Mapped[str] = mapped_column(sa.String(30), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    street: Mapped[Street] = relationship(back_populates="communities")
    venues: Mapped[list[Venue]] = relationship(back_populates="community", order_by="Venue.name")

    @property
    def full_name(self) -> str:
        return f"{self.street.district.name} {self.street.name} {self.name}"


class Venue(db.Model):
    """A room where sessions take place, e.g. the service centre's second floor."""

    __tablename__ = "venues"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "name", name="uq_venues_community_name"),
        sa.CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    address: Mapped[str] = mapped_column(sa.String(200), default="")
    #: how many children the room holds safely, if known
    capacity: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    community: Mapped[Community] = relationship(back_populates="venues")
