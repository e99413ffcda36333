"""The audit trail: who saw or changed what (privacy). Rows are only ever added.

The actor names who did it: ``user:<name>`` (a person, in the console or the API),
``api:<token id>`` (a system with the read token), ``cli:<account>`` (an operator running the
``callcenter`` command), ``system:<job>`` (a sweep), ``public:<client>`` (a customer's page).
"""

from __future__ import annotations

import os
import pwd

from sqlalchemy.orm import Session

from callcenter.models import AuditEntry


def record(session: Session, actor: str, action: str, subject: str,
           detail: str | None = None) -> None:
    session.add(AuditEntry(actor=actor[:120], action=action, subject=subject[:120],
                           detail=detail))


def command_line_actor() -> str:
    """The operator behind a ``callcenter`` command: the operating-system account running it
    (e.g. ``cli:deploy``), the only identity a shell on the server has."""
    try:
        return "cli:" + pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a container's uid without a passwd entry
        return f"cli:uid-{os.getuid()}"
