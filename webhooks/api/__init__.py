"""The JSON API under ``/api`` (CONTRACT "JSON API" and the README's "Contract additions"):
one module per capability, each with its blueprint.

- :mod:`~webhooks.api.health`: ``GET /api/health`` (no token).
- :mod:`~webhooks.api.tickets`: reading tickets, a callback, resolving, the extension.
- :mod:`~webhooks.api.customers`: finding a customer (``GET /api/customers?q=``).
- :mod:`~webhooks.api.replies`: email, SMS and WhatsApp replies to the customer.
- :mod:`~webhooks.api.documents`: required documents and the desk's uploads (P4.3).
- :mod:`~webhooks.api.desk`: walk-in visits (P4).
- :mod:`~webhooks.api.templates`: reply templates (P3.3).

Who may call what is :mod:`~webhooks.api.auth` (the ``API_TOKEN`` bearer for systems, HTTP
basic with a user for people). Every change is one function of the domain, the one the
console calls, which writes the audit row; errors are JSON (the app's handler).
"""

from webhooks.api import customers, desk, documents, health, replies, templates, tickets

BLUEPRINTS = (health.bp, tickets.bp, customers.bp, replies.bp, documents.bp, desk.bp, templates.bp)

__all__ = ["BLUEPRINTS"]
