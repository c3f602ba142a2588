"""The migrations are the schema: they build it, and they agree with the models."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from childcare import create_app
from childcare.config import TestingConfig
from childcare.db import db, read_only


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), read_only(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_every_model_table_was_created_by_a_migration(app):
    with app.app_context(), read_only(), db.engine.connect() as conn:
        existing = set(db.inspect(conn).get_table_names())
    assert {t.name for t in db.metadata.sorted_tables} <= existing
    assert "alembic_version" in existing


def _fresh_database_url(app, tmp_path) -> tuple[str, callable]:
    """An empty database of the same kind as the suite's, and a function that drops it."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'roundtrip.db'}", lambda: None
    name = f"{url.database}_roundtrip"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def test_every_migration_downgrades_and_upgrades_again(app, tmp_path):
    url, drop = _fresh_database_url(app, tmp_path)
    other = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    try:
        with other.app_context():
            upgrade()
            downgrade(revision="base")
            with db.engine.connect() as conn:
                assert set(db.inspect(conn).get_table_names()) <= {"alembic_version"}
            upgrade()
            with read_only(), db.engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                assert compare_metadata(context, db.metadata) == []
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()
