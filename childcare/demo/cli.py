"""`flask demo load`: a believable, idempotent demo dataset drawn from the domain notes."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from childcare.db import unit_of_work
from childcare.demo.data import DEMO_ACCOUNTS, load_demo

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
def load() -> None:
    """Create the demo communities, programmes and accounts (safe to run again)."""
    with unit_of_work():
        created = load_demo()
    click.echo(f"demo data ready ({created} new records)")
    click.echo("demo accounts (phone / password):")
    for account in DEMO_ACCOUNTS:
        click.echo(f"  {account['label']:<28} {account['phone']}  {account['password']}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(demo_cli)
