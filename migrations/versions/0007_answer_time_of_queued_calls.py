"""answer time of queued calls, pending outbox indexes

``contacts.answered_at``: when an agent took a caller out of the queue (the bridge). The speed
of answer and the service level (answered within 20 s) on ``/metrics`` are computed from it.
Calls answered before this revision have none: only that day's figures are affected.
Partial indexes on the pending rows of the two outboxes: the outbox sweep and ``/metrics``
read only those, while sent rows pile up (46 ms a scrape at 300,000 rows without them).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callcenter.models import UTCDateTime


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answered_at', UTCDateTime(), nullable=True))
    for table in ('outbound_messages', 'outbound_emails'):
        op.create_index(f'ix_{table}_pending', table, ['created_at'], unique=False,
                        postgresql_where=sa.text("status = 'pending'"),
                        sqlite_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    for table in ('outbound_messages', 'outbound_emails'):
        op.drop_index(f'ix_{table}_pending', table_name=table)
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('answered_at')
