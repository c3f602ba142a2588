"""Enrolment jobs: thin adapters that open one unit of work and call one service."""

from __future__ import annotations

from datetime import datetime

from childcare.db import unit_of_work
from childcare.enrolment.draw import close_due_draws
from childcare.enrolment.services import expire_offers


def run_expire_offers(now: datetime | None = None) -> int:
    """End offers past their expiry and pass the seats on; answers how many expired."""
    with unit_of_work():
        return expire_offers(now=now)


def run_close_due_draws(now: datetime | None = None) -> int:
    """Run the draws whose application window has closed; answers how many ran."""
    with unit_of_work():
        return close_due_draws(now=now)
