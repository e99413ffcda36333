"""answer time of queued calls

``contacts.answered_at``: when an agent took a caller out of the queue (the bridge). The speed
of answer and the service level (answered within 20 s) on ``/metrics`` are computed from it.
Calls answered before this revision have none: only that day's figures are affected.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callcenter.models import UTCDateTime


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answered_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('answered_at')
