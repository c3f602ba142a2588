"""notify(): the one call every feature uses to tell a person something."""

from __future__ import annotations

import functools
from typing import Any

from babel import Locale, UnknownLocaleError
from flask_babel import force_locale, get_locale

from childcare.db import db, utcnow
from childcare.notifications.kinds import fill, template_pair
from childcare.notifications.models import Channel, Notification, OutboxMessage, OutboxStatus


@functools.lru_cache(maxsize=16)
def _parsed(locale: str) -> Locale | None:
    try:
        return Locale.parse(locale)
    except (ValueError, TypeError, UnknownLocaleError):
        return None


# (locale, kind) → the title and body templates in that language; catalogues do not change while the app runs.
_templates: dict[tuple[str, str], tuple[str, str]] = {}


def _rendered(user: Any, kind: str, data: dict[str, Any]) -> tuple[str, str]:
    """Messages that leave the system are rendered in the recipient's language now."""
    locale = getattr(user, "locale", None) or "zh_CN"
    templates = _templates.get((locale, kind))
    if templates is None:
        if get_locale() == _parsed(locale):  # no catalogue switch needed
            templates = template_pair(kind)
        else:
            with force_locale(locale):
                templates = template_pair(kind)
        _templates[(locale, kind)] = templates
    return fill(templates, data)


def compose(user: Any, kind: str, *, link: str = "", channels: tuple[Channel, ...] = (Channel.SMS,),
            **data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The column values of one inbox entry and of its outbox rows (without the notification's id)."""
    now = utcnow()
    notification = {"user_id": user.id, "kind": kind, "data": data, "link": link, "created_at": now,
                    "read_at": None}
    title, body = _rendered(user, kind, data)
    outbox = []
    for channel in channels:
        recipient = getattr(user, "phone", "") if channel == Channel.SMS else getattr(user, "email", "") or ""
        if recipient:
            outbox.append({"user_id": user.id, "channel": channel, "recipient": recipient,
                           "payload": {"subject": title, "body": body}, "status": OutboxStatus.PENDING,
                           "attempts": 0, "last_error": "", "created_at": now, "sent_at": None})
    return notification, outbox


def notify(user: Any, kind: str, *, link: str = "", channels: tuple[Channel, ...] = (Channel.SMS,),
           **data: Any) -> Notification:
    """Write an inbox entry and one outbox row per channel, in the caller's transaction."""
    values, outbox = compose(user, kind, link=link, channels=channels, **data)
    notification = Notification(**values)
    db.session.add(notification)
    for row in outbox:
        # Linked by relationship, so both rows go out in the caller's next flush (no round trip here).
        db.session.add(OutboxMessage(notification=notification, **row))
    return notification


def mark_read(*, actor: Any, notification_ids: list[int] | None = None) -> int:
    """Mark the actor's notifications read (all of them when no ids are given); answers how many."""
    query = db.update(Notification).where(Notification.user_id == actor.id, Notification.read_at.is_(None))
    if notification_ids is not None:
        query = query.where(Notification.id.in_(notification_ids))
    result = db.session.execute(query.values(read_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount or 0
