"""Volunteer jobs: thin adapters that open one unit of work and call one service."""

from __future__ import annotations

from datetime import datetime

from childcare.db import unit_of_work
from childcare.volunteers.services import alert_understaffed


def run_alert_understaffed(now: datetime | None = None) -> int:
    """Tell coordinators about sessions starting within two days that still have open posts; answers alerts sent."""
    with unit_of_work():
        return alert_understaffed(now=now)
