"""The migrations are the schema: they build it, and they agree with the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

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
