"""People who log in, and the roles they hold (a coordinator's role is per community)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from childcare.db import db, utcnow


class Role(enum.StrEnum):
    """What a person may do; one person may hold several."""

    GUARDIAN = "guardian"
    VOLUNTEER = "volunteer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    @property
    def title(self) -> str:
        return str(ROLE_TITLES[self])


ROLE_TITLES = {
    Role.GUARDIAN: _l("Guardian"),
    Role.VOLUNTEER: _l("Volunteer"),
    Role.COORDINATOR: _l("Coordinator"),
    Role.ADMIN: _l("Administrator"),
}

#: roles whose grant names a community
COMMUNITY_ROLES = frozenset({Role.COORDINATOR})


class User(UserMixin, db.Model):
    """An account, identified by a mainland mobile number in E.164 form."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: E.164, e.g. +8613800138000; unique login name
    phone: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    #: preferred language, None = not chosen yet (cookie or zh_CN applies)
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    #: bumped on password change so that other logged-in sessions end
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    #: secret part of the guardian's iCalendar feed URL; None until first asked for
    calendar_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    grants: Mapped[list[RoleGrant]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                   lazy="selectin")

    def get_id(self) -> str:
        # The version makes a password change log out every other session.
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.active

    def has_role(self, role: Role, community_id: int | None = None) -> bool:
        """True if the person holds the role (for that community, when one is named)."""
        for grant in self.grants:
            if grant.role == role and (community_id is None or grant.community_id == community_id):
                return True
        return False

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)

    @property
    def roles(self) -> list[Role]:
        return sorted({grant.role for grant in self.grants}, key=list(Role).index)

    def coordinated_community_ids(self) -> set[int]:
        return {g.community_id for g in self.grants if g.role == Role.COORDINATOR and g.community_id is not None}

    def __repr__(self) -> str:
        return f"<User {self.id} {self.phone}>"


class RoleGrant(db.Model):
    """One role held by one person; coordinators' grants name the community they run."""

    __tablename__ = "role_grants"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "role", "community_id", name="uq_role_grants_user_role_community"),
        sa.CheckConstraint("role <> 'coordinator' OR community_id IS NOT NULL", name="coordinator_has_community"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(sa.Enum(Role, native_enum=False, length=20,
                                               values_callable=lambda e: [m.value for m in e]))
    community_id: Mapped[int | None] = mapped_column(sa.ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="grants")


class ApiToken(db.Model):
    """A personal bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: hex SHA-256 of the token; the token itself is shown once
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class IdempotencyRecord(db.Model):
    """The first answer to a request sent with an Idempotency-Key, replayed for repeats (≥ 24 h)."""

    __tablename__ = "idempotency_records"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_idempotency_records_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(200))
    #: hex SHA-256 of method, path and body: the same key with another body is refused
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int]
    response_body: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
