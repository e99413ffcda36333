"""Run Alembic migrations from code: the Procfile's ``release`` step, the dev run and tests.

Tables come from migrations only, never from ``create_all`` at boot (concurrent gunicorn
workers would race on PostgreSQL).
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from callcenter.config import PROJECT_ROOT


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``."""
    command.upgrade(alembic_config(url), revision)
