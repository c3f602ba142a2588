"""`flask users create`: accounts without prompting (the first administrator, scripts)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from childcare.accounts import services
from childcare.accounts.models import Role
from childcare.db import db, unit_of_work
from childcare.errors import DomainError

users_cli = AppGroup("users", help="Manage accounts.")


@users_cli.command("create")
@click.option("--phone", required=True, help="Mainland mobile number.")
@click.option("--password", required=True, help="At least 8 characters with letters and digits.")
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, default=("guardian",),
              type=click.Choice([r.value for r in Role]), help="May be given several times.")
@click.option("--community", "community_id", type=int, help="Community id (needed for coordinators).")
def create_user(phone: str, password: str, name: str, roles: tuple[str, ...], community_id: int | None) -> None:
    """Create an account with the given roles; an existing account with that phone gets the roles."""
    try:
        with unit_of_work():
            normalised = services.normalise_phone(phone)
            user = services.find_by_phone(normalised)
            if user is None:
                user = services.register(phone=phone, password=password, name=name, roles=())
            for role in roles:
                services.grant_role(actor=None, user=user, role=Role(role), community_id=community_id)
            db.session.flush()
            user_id = user.id
    except DomainError as error:
        # No request here, so the locale selector cannot run: name the language the message is shown in.
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            message = error.detail
        raise click.ClickException(message) from None
    click.echo(f"user {user_id} {normalised} roles={','.join(roles)}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
