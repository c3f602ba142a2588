"""The one access-control mechanism: route decorators for roles, object checks for services."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask_login import current_user

from childcare.accounts.models import Role, User
from childcare.errors import Forbidden, NotFound


def role_required(*roles: Role) -> Callable:
    """Route decorator: the logged-in person must hold one of the roles (any community)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                from flask import abort

                abort(401)
            if not any(current_user.has_role(role) for role in roles) and not current_user.is_admin:
                raise Forbidden()
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorator


def ensure_admin(actor: User) -> None:
    if not actor.is_admin:
        raise Forbidden()


def can_manage_community(actor: User, community_id: int | None) -> bool:
    """Administrators manage every community; a coordinator only those assigned to them."""
    if actor.is_admin:
        return True
    return community_id is not None and community_id in actor.coordinated_community_ids()


def ensure_manages_community(actor: User, community_id: int | None, *, hide: bool = False) -> None:
    """Refuse unless the actor runs the community; hide=True answers 'not found' instead."""
    if not can_manage_community(actor, community_id):
        raise NotFound() if hide else Forbidden()


def managed_community_ids(actor: User) -> set[int] | None:
    """The communities the actor manages; None means all of them (an administrator)."""
    if actor.is_admin:
        return None
    return actor.coordinated_community_ids()
