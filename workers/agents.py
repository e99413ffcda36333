"""Ring free agents for queued callers; each agent's call dequeues the front caller."""

from __future__ import annotations

import logging

from callcenter.models import Agent
from callcenter.voice import agents
from callcenter.voice.telephony import rest_client
from workers.queues import redis_connection
from workers.runtime import job_session, settings

log = logging.getLogger(__name__)
AGENT_RING_TIMEOUT_S = 20


def dispatch_agents(base_url: str | None = None) -> int:
    """Place one call per claimed agent; returns how many were rung.

    A Redis lock serialises dispatchers so two of them never count the same waiting caller.
    URLs come from ``PUBLIC_BASE_URL`` (``Settings.base_url``); ``base_url`` is ignored, and
    accepted only because jobs enqueued by earlier releases still carry it.
    """
    current = settings()
    base = current.base_url
    lock = redis_connection(current).lock(
        current.queue_prefix + "callcenter:dispatch-lock", timeout=60, blocking_timeout=30)
    with lock, job_session(current) as session:
        claimed = agents.claim_agents(session)
        session.commit()
        placed = 0
        client = rest_client(current)
        for agent_id, token in claimed:
            agent = session.get(Agent, agent_id)
            assert agent is not None
            try:
                call = client.calls.create(
                    to=agent.address,
                    from_=current.twilio_phone_number,
                    url=f"{base}/twilio/voice/agent/answer",
                    status_callback=f"{base}/twilio/voice/status",
                    status_callback_event=["initiated", "ringing", "answered", "completed"],
                    timeout=AGENT_RING_TIMEOUT_S,
                )
            except Exception:
                agents.release_agent(session, agent_id, token)
                session.commit()
                raise
            agents.agent_leg_placed(session, agent_id, token, call.sid)
            session.commit()
            placed += 1
        return placed
