"""notify(): the one call every feature uses to tell a person something."""

from __future__ import annotations

from typing import Any

from flask_babel import force_locale

from childcare.db import db, utcnow
from childcare.notifications.kinds import render
from childcare.notifications.models import Channel, Notification, OutboxMessage


def notify(user: Any, kind: str, *, link: str = "", channels: tuple[Channel, ...] = (Channel.SMS,),
           **data: Any) -> Notification:
    """Write an inbox entry and one outbox row per channel, in the caller's transaction."""
    notification = Notification(user_id=user.id, kind=kind, data=data, link=link)
    db.session.add(notification)
    # Messages that leave the system are rendered in the recipient's language now.
    with force_locale(getattr(user, "locale", None) or "zh_CN"):
        title, body = render(kind, data)
    for channel in channels:
        recipient = getattr(user, "phone", "") if channel == Channel.SMS else getattr(user, "email", "") or ""
        if not recipient:
            continue
        # Linked by relationship, so both rows go out in the caller's next flush (no round trip here).
        db.session.add(OutboxMessage(notification=notification, user_id=user.id, channel=channel,
                                     recipient=recipient, payload={"subject": title, "body": body}))
    return notification


def mark_read(*, actor: Any, notification_ids: list[int] | None = None) -> int:
    """Mark the actor's notifications read (all of them when no ids are given); answers how many."""
    query = db.update(Notification).where(Notification.user_id == actor.id, Notification.read_at.is_(None))
    if notification_ids is not None:
        query = query.where(Notification.id.in_(notification_ids))
    result = db.session.execute(query.values(read_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount or 0
