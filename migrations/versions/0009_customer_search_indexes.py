"""customer search indexes

The console's and the API's customer search (callcenter/people/customer_search.py) finds the
names that start with what was typed by a range over ``lower(name)``: an index range scan
that stops at the 50th row, instead of reading 100,000 names. On PostgreSQL the expression is
compared in the "C" collation (byte order), so every name starting with the typed letters
lies between them and them followed by U+10FFFF whatever the database's locale; SQLite's
default collation is byte order already.

The names where a later word starts with what was typed, or that contain it, are a
case-insensitive scan; on PostgreSQL a trigram index (``pg_trgm``, a trusted extension since
PostgreSQL 13, on every common managed service) answers ``ILIKE '%…%'`` from the index. Where
the extension cannot be created the index is skipped (with a warning) and the search stays
correct, only slower.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 01:00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_INDEX = 'ix_customers_name_lower'
TRIGRAM_INDEX = 'ix_customers_name_trgm'
log = logging.getLogger(__name__)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        op.create_index(NAME_INDEX, 'customers', [sa.text('lower(name)')])
        return
    op.create_index(NAME_INDEX, 'customers', [sa.text('(lower(name) COLLATE "C")')])
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
    except sa.exc.DBAPIError as exc:
        savepoint.rollback()
        log.warning('pg_trgm is not available (%s): customer search by part of a name '
                    'reads every name', exc.orig)
        return
    savepoint.commit()
    op.create_index(TRIGRAM_INDEX, 'customers', ['name'], postgresql_using='gin',
                    postgresql_ops={'name': 'gin_trgm_ops'})


def downgrade() -> None:
    op.execute(f'DROP INDEX IF EXISTS {TRIGRAM_INDEX}')
    op.drop_index(NAME_INDEX, table_name='customers')
