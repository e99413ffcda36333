"""The agent console: server-rendered pages for agents, supervisors, QA and admins.

Importing the page modules registers their routes on :data:`bp`; each module owns its pages.
"""

from webhooks.console import (  # noqa: F401  (routes)
    audit_trail,
    auth,
    customers,
    desk,
    floor,
    inbox,
    language,
    presence,
    templates_ui,
    tickets,
    user_admin,
    wrap_up,
)
from webhooks.console.blueprint import bp

__all__ = ["bp"]
