"""Attendance jobs: thin adapters that open one unit of work and call one service (both are idempotent)."""

from __future__ import annotations

from datetime import datetime

from childcare.attendance import services
from childcare.db import unit_of_work


def raise_absence_alerts(*, now: datetime | None = None) -> int:
    """Alert the guardians of children not arrived some minutes after the start; answers how many alerts."""
    with unit_of_work():
        return services.alert_absences(now=now)


def sweep_not_checked_out(*, now: datetime | None = None) -> int:
    """Alert the staff of children still checked in after the end; answers how many alerts."""
    with unit_of_work():
        return services.sweep_not_checked_out(now=now)
