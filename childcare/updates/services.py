"""Daily updates (学习动态): a session's volunteers and coordinators post a note and photos; guardians are told.

Photo files and database rows cannot share a transaction. Every photo is checked and re-encoded in memory first,
so a bad one refuses the update before any file exists. The files are then written and their rows flushed; the
paths are remembered on the database session, and a rollback of that session (a later refusal, a failed flush or
commit) deletes them. What remains is a crash window: if the process dies after writing files and before the
commit or the rollback, the files stay on disk without rows. They are unreachable (nothing names them) and can
be swept by comparing UPLOAD_FOLDER/updates with update_photos.storage_key.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session

from childcare.accounts.models import User
from childcare.accounts.permissions import can_manage_community
from childcare.audit.services import record
from childcare.db import db, utcnow
from childcare.errors import DomainError, Forbidden, InvalidInput, NotFound
from childcare.notifications.kinds import register_kind
from childcare.notifications.services import notify
from childcare.programmes.models import Programme
from childcare.updates import photos as photo_files
from childcare.updates.models import DailyUpdate, UpdatePhoto
from childcare.updates.queries import guardians_of_session
from childcare.volunteers.access import can_staff_session, ensure_can_staff_session

#: a note is short: what the children did today
MAX_NOTE_LENGTH = 1000

register_kind("updates.posted", _l("New daily update"),
              _l("%(programme)s, %(date)s: a new daily update from %(author)s."))

_PENDING_FILES = "childcare.updates.pending_files"


@event.listens_for(Session, "after_commit")
def _keep_written_files(session: Session) -> None:
    session.info.pop(_PENDING_FILES, None)


@event.listens_for(Session, "after_rollback")
def _remove_written_files(session: Session) -> None:
    paths = session.info.pop(_PENDING_FILES, None)
    if paths:
        photo_files.remove_files(paths)


def _remember_written(path: Path) -> None:
    db.session.info.setdefault(_PENDING_FILES, []).append(path)


class SessionCancelled(DomainError):
    """Nothing happened in a cancelled session, so there is nothing to tell."""

    status = 409
    code = "session_cancelled"
    default_message = _l("This session was cancelled.")


def _clean_note(note: str | None) -> str:
    text = (note or "").strip()
    if not text:
        raise InvalidInput(_l("Write a short note."), field="note", code="note_required")
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidInput(_l("The note can be at most %(max)d characters."), field="note", code="note_too_long",
                           max=MAX_NOTE_LENGTH)
    return text


def post_update(*, actor: User, session_id: int, note: str,
                photos: Sequence[bytes | IO[bytes]] = ()) -> DailyUpdate:
    """Post a note and up to nine photos about a session; its guardians are notified in the inbox."""
    session = ensure_can_staff_session(actor, session_id)
    if session.cancelled:
        raise SessionCancelled()
    text = _clean_note(note)
    if len(photos) > photo_files.MAX_PHOTOS:
        raise InvalidInput(_l("You can add at most %(max)d photos."), field="photos", code="too_many_photos",
                           max=photo_files.MAX_PHOTOS)
    # Every photo is checked before any file is written: a bad third photo leaves nothing behind.
    cleaned = [photo_files.clean_photo(upload, number=number) for number, upload in enumerate(photos, start=1)]

    update = DailyUpdate(session_id=session.id, author_id=actor.id, note=text)
    db.session.add(update)
    for position, photo in enumerate(cleaned):
        key, path = photo_files.write_photo(photo)
        _remember_written(path)
        update.photos.append(UpdatePhoto(position=position, storage_key=key, width=photo.width,
                                         height=photo.height, size_bytes=len(photo.data)))
    db.session.flush()

    programme = db.session.get(Programme, session.programme_id)
    community_id = programme.community_id if programme else None
    record(actor=actor, action="updates.posted", obj=update, community_id=community_id,
           after={"session_id": session.id, "photos": len(cleaned), "note_length": len(text)})
    data: dict[str, Any] = {"programme": programme.title if programme else "", "date": session.on_date.isoformat(),
                            "author": actor.name}
    # The inbox only: an SMS for every day's update would cost the community money and tire families.
    for guardian in guardians_of_session(session):
        if guardian.id != actor.id:
            notify(guardian, "updates.posted", link=f"/updates/#update-{update.id}", channels=(), **data)
    return update


def withdraw_update(*, actor: User, update_id: int) -> DailyUpdate:
    """Hide an update from families (its author or a coordinator); it is kept for the record."""
    update = db.session.get(DailyUpdate, update_id)
    if update is None:
        raise NotFound()
    is_author = update.author_id == actor.id
    if not is_author and not can_staff_session(actor, update.session):
        raise NotFound()
    community_id = db.session.scalar(sa.select(Programme.community_id)
                                     .where(Programme.id == update.session.programme_id))
    if not is_author and not can_manage_community(actor, community_id):
        raise Forbidden(_l("Only the author or a coordinator can withdraw this update."))
    if update.withdrawn_at is not None:
        return update  # a second tap changes nothing
    update.withdrawn_at = utcnow()
    db.session.flush()
    record(actor=actor, action="updates.withdrawn", obj=update, community_id=community_id,
           after={"session_id": update.session_id})
    return update
