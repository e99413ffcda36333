"""drop the single-column index on tickets.status

Every query that filters tickets by status alone or with more columns is served by the
composite indexes that lead with it (``ix_tickets_status_due_at``,
``ix_tickets_status_category_due_at``), so ``ix_tickets_status`` only cost writes: each ticket
opened, and each status change (the IVR resolves every call of answered questions), updated
one index more. See bench/README.md, "Issue 14's third round".

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 07:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_status')


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_status', ['status'], unique=False)
