"""The audit trail: who saw or changed what (privacy). Rows are only ever added."""

from __future__ import annotations

from sqlalchemy.orm import Session

from callcenter.models import AuditEntry


def record(session: Session, actor: str, action: str, subject: str,
           detail: str | None = None) -> None:
    session.add(AuditEntry(actor=actor[:120], action=action, subject=subject[:120],
                           detail=detail))
