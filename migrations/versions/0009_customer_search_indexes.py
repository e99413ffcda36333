"""customer search indexes

The console's and the API's customer search (callcenter/people/customer_search.py) finds the
names that start with what was typed by a range over ``lower(name)``: an index range scan
that stops at the 50th row, instead of reading 100,000 names. On PostgreSQL the expression is
compared in the "C" collation (byte order), so every name starting with the typed letters
lies between them and them followed by U+10FFFF whatever the database's locale; SQLite's
default collation is byte order already.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_INDEX = 'ix_customers_name_lower'


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        expression = sa.text('(lower(name) COLLATE "C")')
    else:
        expression = sa.text('lower(name)')
    op.create_index(NAME_INDEX, 'customers', [expression])


def downgrade() -> None:
    op.drop_index(NAME_INDEX, table_name='customers')
