"""Alembic environment: the URL comes from the settings (or ``-x url=…``), never from the ini."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from callcenter.config import Settings
from callcenter.db import make_engine
from callcenter.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Indexes that live only in migrations, because the models cannot say them for every engine:
# 0009's customer-name indexes (an expression with PostgreSQL's "C" collation, and a pg_trgm
# index made only where the extension can be created). `alembic check` must not ask to drop them.
MIGRATION_ONLY_INDEXES = frozenset({"ix_customers_name_lower", "ix_customers_name_trgm"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object | None) -> bool:
    return not (type_ == "index" and reflected and compare_to is None
                and name in MIGRATION_ONLY_INDEXES)


def _url() -> str:
    return (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or Settings.from_env().database_url
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
