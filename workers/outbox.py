"""The sweep's safety net for outbox rows (SMS, email) whose job was lost.

A row still ``pending`` some minutes after it was written lost its job (Redis flushed, retries
used up): it is queued again, and past ``max_attempts`` it is marked failed with the reason.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from callcenter.config import Settings
from callcenter.models import utcnow
from callcenter.statuses import OutboxStatus
from workers.queues import enqueue_outbox
from workers.runtime import job_session


def requeue_stale(current: Settings, model: Any, kind: str, *, min_age_s: int,
                  max_attempts: int) -> int:
    """Queue stale pending rows of ``model`` again (``kind`` as in
    :data:`workers.queues.OUTBOX_KINDS`); returns how many were queued."""
    cutoff = utcnow() - timedelta(seconds=min_age_s)
    with job_session(current) as session:
        stale = list(session.scalars(select(model).where(
            model.status == OutboxStatus.PENDING, model.created_at < cutoff).limit(500)))
        retry = []
        for row in stale:
            if row.attempts >= max_attempts:
                row.status = OutboxStatus.FAILED
                row.last_error = (f"gave up after {row.attempts} attempts: "
                                  f"{row.last_error or ''}")[:300]
            else:
                retry.append(row.id)
        session.commit()
    return sum(1 for row_id in retry if enqueue_outbox(current, kind, row_id))
