"""notes on tickets, agents' wrap-up

``notes``: what the customer said, in the words of the person who heard it (PROCEDURE: "CS
wajib mencatat informasi keluhan"), with its author and time; read per ticket, oldest first.
``agents.wrap_up_until`` / ``agents.wrap_up_leg_id``: after a call the agent wraps up (P1.7,
P1.8) and routing skips them until they finish or ``WRAP_UP_SECONDS`` pass.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callcenter.models import UTCDateTime


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('author', sa.String(length=120), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'],
                                name=op.f('fk_notes_ticket_id_tickets')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_notes_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notes')),
    )
    op.create_index('ix_notes_ticket_id_created_at', 'notes', ['ticket_id', 'created_at'],
                    unique=False)
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wrap_up_until', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('wrap_up_leg_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('wrap_up_leg_id')
        batch_op.drop_column('wrap_up_until')
    op.drop_index('ix_notes_ticket_id_created_at', table_name='notes')
    op.drop_table('notes')
