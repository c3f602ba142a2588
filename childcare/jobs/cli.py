"""`flask jobs tick`: run the periodic jobs once (cron or a worker calls it every minute)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from childcare.errors import Busy

jobs_cli = AppGroup("jobs", help="Periodic jobs.")


@jobs_cli.command("tick")
def tick() -> None:
    """Expire offers past their time and run the draws that are due, each in its own unit of work."""
    from childcare.attendance.jobs import raise_absence_alerts, sweep_not_checked_out
    from childcare.enrolment.jobs import run_close_due_draws, run_expire_offers
    from childcare.volunteers.jobs import run_alert_understaffed

    for name, job in (("expire_offers", run_expire_offers), ("close_due_draws", run_close_due_draws),
                      ("alert_understaffed", run_alert_understaffed), ("absence_alerts", raise_absence_alerts),
                      ("not_checked_out", sweep_not_checked_out)):
        try:
            click.echo(f"{name}: {job()}")
        except Busy:
            # The seats are busy right now; the next tick does the work (the jobs are idempotent).
            click.echo(f"{name}: busy, will retry on the next tick")


def register_cli(app: Flask) -> None:
    app.cli.add_command(jobs_cli)
