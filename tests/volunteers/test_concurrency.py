"""Five volunteers tap "claim" for the last post at the same moment: exactly one gets it."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from childcare.accounts.models import User
from childcare.db import db, unit_of_work
from childcare.errors import Busy, DomainError
from childcare.volunteers import services
from childcare.volunteers.models import Shift, ShiftStatus
from tests.volunteers.factories import session_at, volunteer_of

pytestmark = [pytest.mark.concurrency, pytest.mark.usefixtures("app_ctx")]


def claim_at_once(app, session_id: int, volunteer_ids: list[int]) -> tuple[list[int], list[str]]:
    """Each volunteer claims in their own thread, app context and unit of work, released by one barrier."""
    barrier = threading.Barrier(len(volunteer_ids))
    won: list[int] = []
    refused: list[str] = []
    lock = threading.Lock()

    def run(volunteer_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                for attempt in range(20):
                    try:
                        with unit_of_work():
                            actor = db.session.get(User, volunteer_id)
                            services.claim(actor=actor, session_id=session_id)
                        with lock:
                            won.append(volunteer_id)
                        return
                    except Busy:
                        time.sleep(0.02 * (attempt + 1))
                    except DomainError as error:
                        with lock:
                            refused.append(error.code)
                        return
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(vid,)) for vid in volunteer_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return won, refused


def test_five_volunteers_race_for_the_last_post_and_exactly_one_wins(app):
    session = session_at(min_volunteers=2)
    community = session.programme.community
    services.claim(actor=volunteer_of(community), session_id=session.id)
    racers = [volunteer_of(community).id for _ in range(5)]
    session_id = session.id
    db.session.commit()

    won, refused = claim_at_once(app, session_id, racers)

    assert len(won) == 1 and refused == ["no_open_post"] * 4
    db.session.remove()
    held = db.session.scalar(sa.select(sa.func.count(Shift.id)).where(Shift.session_id == session_id,
                                                                      Shift.status == ShiftStatus.HELD))
    assert held == 2
