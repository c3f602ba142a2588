"""seat indexes lead by the programme or session; two indexes no query reads are dropped

The recount inside the seat lock reads the live-enrolment indexes by programme (whole mode) or session (day
mode); led by the child, they were walked from end to end, so a sign-up's time inside the lock grew with every
live enrolment of every programme. Audit entries and inbox entries are read newest first by id, never by time.

Revision ID: 5c1e7a9d2b40
Revises: e29e68964de8
Create Date: 2026-12-03 16:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1e7a9d2b40'
down_revision = 'e29e68964de8'
branch_labels = None
depends_on = None

_LIVE = "status IN ('pending', 'confirmed', 'offered', 'waitlisted')"
_WHOLE = sa.text(f"session_id IS NULL AND {_LIVE}")
_DAY = sa.text(f"session_id IS NOT NULL AND {_LIVE}")


def _live_indexes(whole: list[str], day: list[str]) -> None:
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_index('uq_enrolments_live_child_programme', postgresql_where=_WHOLE, sqlite_where=_WHOLE)
        batch_op.drop_index('uq_enrolments_live_child_session', postgresql_where=_DAY, sqlite_where=_DAY)
        batch_op.create_index('uq_enrolments_live_child_programme', whole, unique=True,
                              postgresql_where=_WHOLE, sqlite_where=_WHOLE)
        batch_op.create_index('uq_enrolments_live_child_session', day, unique=True,
                              postgresql_where=_DAY, sqlite_where=_DAY)


def upgrade():
    _live_indexes(['programme_id', 'child_id'], ['session_id', 'child_id'])
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_at')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_created_at')


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_at', ['at'], unique=False)
    _live_indexes(['child_id', 'programme_id'], ['child_id', 'session_id'])
