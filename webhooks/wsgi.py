"""gunicorn entry point: ``gunicorn webhooks.wsgi:app``. No database work at import.

Outside debug the settings are checked first (CONTRACT "Production settings"): the Procfile's
gunicorn refuses in its ``on_starting`` hook before any worker exists
(:mod:`webhooks.gunicorn_conf`); this check covers a server started without that config, where
the exception fails the worker's boot and gunicorn stops rather than serve with dev secrets.
"""

from callcenter.config import Settings
from webhooks.app import create_app

_settings = Settings.from_env()
_settings.check_for_production()
app = create_app(_settings)
