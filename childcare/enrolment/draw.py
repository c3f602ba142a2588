"""The draw (摇号) at the close of an application window: reproducible by anyone from its published seed."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from childcare.accounts.models import User
from childcare.accounts.permissions import ensure_manages_community
from childcare.audit.services import record
from childcare.db import db, utcnow
from childcare.enrolment.capacity import lock_capacity, seats_left
from childcare.enrolment.models import Enrolment, EnrolmentStatus
from childcare.enrolment.queries import waitlist_positions
from childcare.enrolment.services import _audit, _seat_status, _tell_families
from childcare.errors import DomainError, NotFound, busy_on_lock_timeout
from childcare.programmes.models import Allocation, EnrolmentMode, Programme, ProgrammeSession

#: statuses in the previous term that count as "unsuccessful" (never got a seat)
UNSUCCESSFUL = (EnrolmentStatus.WAITLISTED, EnrolmentStatus.EXPIRED)


class DrawNotPossible(DomainError):
    """The programme does not allocate by draw, or its draw has already run."""

    status = 409
    code = "draw_not_possible"
    default_message = _l("This programme has no draw to run.")


@dataclass
class DrawResult:
    """What a draw decided: the seed to publish, the order drawn, and who got a seat."""

    programme_id: int
    seed: str
    #: enrolment ids in draw order, per session (None = the whole programme)
    order: dict[int | None, list[int]] = field(default_factory=dict)
    seated: list[int] = field(default_factory=list)
    waitlisted: list[int] = field(default_factory=list)


def draw_key(seed: str, enrolment_id: int) -> str:
    """The random part of an application's place: sha256(seed + ":" + id), re-computable by anyone."""
    return hashlib.sha256(f"{seed}:{enrolment_id}".encode()).hexdigest()


def recompute_draw(seed: str, application_ids: Iterable[int], *, priorities: Mapping[int, int] | None = None,
                   previous_unsuccessful: Collection[int] = ()) -> list[int]:
    """Pure: the draw order of applications, from the seed and the published list (公示)."""
    priorities = priorities or {}
    return sorted(set(application_ids), key=lambda i: (priorities.get(i, 100), i not in previous_unsuccessful,
                                                       draw_key(seed, i)))


def previous_unsuccessful(programme: Programme, child_ids: Iterable[int]) -> set[int]:
    """Children who applied for the previous term and never got a seat."""
    if not programme.previous_unsuccessful_first or programme.previous_programme_id is None:
        return set()
    query = sa.select(Enrolment.child_id).where(Enrolment.programme_id == programme.previous_programme_id,
                                                Enrolment.status.in_(UNSUCCESSFUL),
                                                Enrolment.child_id.in_(set(child_ids)))
    return set(db.session.scalars(query))


@busy_on_lock_timeout
def run_draw(*, actor: User | None = None, programme_id: int, seed: str | None = None) -> DrawResult:
    """Draw the applications of a programme: priority first, then (maybe) last term's unsuccessful, then the seed."""
    programme = db.session.get(Programme, programme_id)
    if programme is None:
        raise NotFound()
    if actor is not None:
        ensure_manages_community(actor, programme.community_id, hide=True)
    day_mode = programme.mode == EnrolmentMode.DAY
    sessions = list(db.session.scalars(sa.select(ProgrammeSession).where(
        ProgrammeSession.programme_id == programme.id).order_by(ProgrammeSession.id))) if day_mode else []
    if day_mode:
        if sessions:
            lock_capacity(session_ids=[s.id for s in sessions])
        db.session.refresh(programme)
    else:
        lock_capacity(programme_id=programme.id)
    # Checked inside the lock: two coordinators (or the job and a coordinator) cannot both draw.
    if programme.allocation != Allocation.DRAW or programme.drawn_at is not None:
        raise DrawNotPossible()
    programme.draw_seed = seed or secrets.token_hex(16)
    programme.drawn_at = utcnow()
    result = DrawResult(programme_id=programme.id, seed=programme.draw_seed)

    applications = list(db.session.scalars(
        sa.select(Enrolment).where(Enrolment.programme_id == programme.id,
                                   Enrolment.status == EnrolmentStatus.WAITLISTED, Enrolment.draw_rank.is_(None))
        .options(joinedload(Enrolment.child), joinedload(Enrolment.session))))
    previous = previous_unsuccessful(programme, (a.child_id for a in applications))
    by_slot: dict[int | None, list[Enrolment]] = {}
    for application in applications:
        by_slot.setdefault(application.session_id, []).append(application)
    sessions_by_id = {s.id: s for s in sessions}
    seated: list[Enrolment] = []
    waiting: list[Enrolment] = []
    for slot_id in sorted(by_slot, key=lambda k: k or 0):
        group = {a.id: a for a in by_slot[slot_id]}
        order = recompute_draw(programme.draw_seed, group, priorities={a.id: a.priority for a in group.values()},
                               previous_unsuccessful={a.id for a in group.values() if a.child_id in previous})
        result.order[slot_id] = order
        session = sessions_by_id.get(slot_id) if slot_id is not None else None
        left = seats_left(programme, session)
        if session is not None and (session.cancelled or session.starts_at <= utcnow()):
            left = 0
        for rank, enrolment_id in enumerate(order, start=1):
            enrolment = group[enrolment_id]
            enrolment.draw_rank = rank
            if rank <= left:
                enrolment.status = _seat_status(programme)
                seated.append(enrolment)
            else:
                waiting.append(enrolment)
    db.session.flush()
    result.seated = [e.id for e in seated]
    result.waitlisted = [e.id for e in waiting]
    record(actor=actor, action="programme.drawn", obj=programme,
           after={"seed": programme.draw_seed, "applications": len(applications), "seated": len(seated)})
    for enrolment in seated:
        _audit(actor, f"enrolment.{enrolment.status.value}", enrolment, draw_rank=enrolment.draw_rank)
    positions: dict[int, int] = {}
    for slot_id in {e.session_id for e in waiting}:
        positions.update(waitlist_positions(programme_id=programme.id, session_id=slot_id))
    for enrolment in waiting:
        _audit(actor, "enrolment.waitlisted", enrolment, draw_rank=enrolment.draw_rank,
               position=positions.get(enrolment.id))
    for status in {e.status for e in seated}:
        _tell_families([e for e in seated if e.status == status], f"enrolment.{status.value}")
    if waiting:
        _tell_families(waiting, "enrolment.waitlisted", positions=positions)
    return result


@busy_on_lock_timeout
def close_due_draws(*, now: datetime | None = None) -> int:
    """Job: run every draw whose application window has closed and that has not run yet (idempotent)."""
    now = now or utcnow()
    due = list(db.session.scalars(sa.select(Programme.id).where(
        Programme.allocation == Allocation.DRAW, Programme.drawn_at.is_(None),
        Programme.registration_closes_at.is_not(None), Programme.registration_closes_at <= now)
        .order_by(Programme.id)))
    count = 0
    for programme_id in due:
        try:
            with db.session.begin_nested():
                run_draw(programme_id=programme_id)
            count += 1
        except DrawNotPossible:
            continue  # another run drew it first
    return count
