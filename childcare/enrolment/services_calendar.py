"""The guardian's iCalendar feed: its secret URL token and the feed itself."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from icalendar import Calendar, Event

from childcare.accounts.models import User
from childcare.db import db, utcnow


def ensure_calendar_token(*, actor: User) -> str:
    """The actor's feed token, made on first use (secret: anyone with the URL reads the schedule)."""
    if not actor.calendar_token:
        actor.calendar_token = secrets.token_urlsafe(32)
        db.session.flush()
    return actor.calendar_token


def guardian_by_calendar_token(token: str) -> User | None:
    """The active account whose feed this is, or None (an unknown or empty token finds nobody)."""
    if not token or len(token) > 64:
        return None
    user = db.session.scalar(sa.select(User).where(User.calendar_token == token))
    return user if user is not None and user.active else None


def render_calendar(rows: Iterable[tuple[Any, Any, Any, Any]], *, name: str, now: datetime | None = None) -> bytes:
    """An iCalendar document of (session, child, enrolment, leave) rows; a session on leave is marked cancelled."""
    calendar = Calendar()
    calendar.add("prodid", "-//childcare//community classes//ZH")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    stamp = now or utcnow()
    for session, child, _enrolment, leave in rows:
        programme = session.programme
        venue = session.venue or programme.venue
        event = Event()
        event.add("uid", f"session-{session.id}-child-{child.id}@childcare")
        event.add("dtstamp", stamp)
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        event.add("summary", f"{child.name} · {programme.title}")
        if venue is not None:
            event.add("location", venue.name)
        notes = [note for note in (session.note,) if note]
        if leave is not None and leave.cancelled_at is None:
            notes.insert(0, _("Leave requested"))
            event.add("status", "CANCELLED")
        elif session.cancelled:
            notes.insert(0, _("Session cancelled"))
            event.add("status", "CANCELLED")
        else:
            event.add("status", "CONFIRMED")
        if notes:
            event.add("description", "\n".join(notes))
        calendar.add_component(event)
    return calendar.to_ical()
