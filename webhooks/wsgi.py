"""gunicorn entry point: ``gunicorn webhooks.wsgi:app``. No database work at import."""

from webhooks.app import create_app

app = create_app()
