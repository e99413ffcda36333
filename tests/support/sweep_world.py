"""Rows that give every sweep step something to do, as the service leaves them.

At ``now`` (a Wednesday morning in Jakarta): a caller waiting for an agent, a callback stuck
``dialing`` for 20 minutes, a call whose status callback never came (3 hours old), a customer
silent for two days after our written question (owed a ``no_response`` callback), an oral
complaint past its period (becomes written; the customer is told by SMS), and an email whose
job was lost (pending for 20 minutes). ``index`` keeps several worlds apart (distinct
customers, phones and Order IDs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.models import Callback, Contact, OutboundEmail, OutboundMessage, Ticket
from callcenter.statuses import CallbackStatus, CallStatus, QueueState, TicketStatus
from callcenter.tickets import lifecycle
from tests.factories import make_customer
from workers.queues import URGENT, queue, redis_connection


@dataclass(frozen=True)
class SweepWorld:
    waiting_caller_id: int
    stuck_callback_id: int
    unsettled_contact_id: int
    silent_ticket_id: int
    oral_ticket_id: int
    stale_email_id: int
    phones: tuple[str, ...]


def phone(index: int, slot: int) -> str:
    return f"+62812{index:03d}{slot:05d}"


def owe_every_sweep_effect(session: Session, now: datetime, index: int = 0,
                           lost_calls: bool = True, waiting: bool = True) -> SweepWorld:
    """The rows; ``lost_calls=False`` leaves out the stuck callback and the unsettled call
    (whose made-up Call SIDs Twilio would not know), ``waiting=False`` the waiting caller
    (who is in no Twilio queue)."""
    customers = [make_customer(session, order_id=f"9{index:03d}{slot:04d}",
                               phone=phone(index, slot), email=f"c{index}-{slot}@example.com")
                 for slot in range(4)]
    waiting_ticket = lifecycle.open_ticket(session, channel="voice",
                                           customer_id=customers[0].id, now=now)
    caller = Contact(ticket_id=waiting_ticket.id, channel="voice", direction="inbound",
                      external_id=f"CA{index:04d}{'1' * 28}", status=CallStatus.IN_PROGRESS,
                      from_number=customers[0].phone, started_at=now - timedelta(minutes=1),
                      queue_state=QueueState.WAITING, queued_at=now - timedelta(seconds=30))
    stuck_ticket = lifecycle.open_ticket(session, channel="voice",
                                         customer_id=customers[1].id, now=now)
    stuck = Callback(ticket_id=stuck_ticket.id, reason="dropped_call", phone=customers[1].phone,
                     status=CallbackStatus.DIALING, due_at=now - timedelta(minutes=25),
                     attempts=1, call_sid=f"CA{index:04d}{'2' * 28}",
                     dialing_since=now - timedelta(minutes=20))
    unsettled = Contact(ticket_id=stuck_ticket.id, channel="voice", direction="inbound",
                        external_id=f"CA{index:04d}{'3' * 28}", status=CallStatus.IN_PROGRESS,
                        from_number=customers[1].phone, started_at=now - timedelta(hours=3))
    silent = lifecycle.open_ticket(session, channel="email", customer_id=customers[2].id,
                                   now=now - timedelta(days=3))
    silent.status = TicketStatus.PENDING_CUSTOMER
    question = Contact(ticket_id=silent.id, channel="email", direction="outbound",
                       external_id=f"<q{index}@cankul.co.id>", status="sent",
                       started_at=now - timedelta(days=2), asks_customer=True)
    oral = lifecycle.open_ticket(session, channel="voice", customer_id=customers[3].id,
                                 now=now - timedelta(days=14))  # 5 working days: past
    email = OutboundEmail(ticket_id=silent.id, to_address=customers[2].email or "",
                          subject="Pertanyaan", body="Mohon jawab",
                          message_id=f"<lost{index}@cankul.co.id>",
                          created_at=now - timedelta(minutes=20))
    session.add_all([question, email] + ([caller] if waiting else [])
                    + ([stuck, unsettled] if lost_calls else []))
    session.commit()
    return SweepWorld(caller.id if waiting else 0, stuck.id if lost_calls else 0,
                      unsettled.id if lost_calls else 0, silent.id, oral.id, email.id,
                      tuple(c.phone for c in customers))


def sweep_effects(session: Session, settings: Settings, world: SweepWorld) -> dict[str, bool]:
    """What each step that does not need Twilio leaves behind (nothing takes the jobs it
    queues: no worker runs)."""
    session.expire_all()
    conn = redis_connection(settings)
    urgent = [Job.fetch(i, connection=conn).func_name for i in queue(settings, URGENT).job_ids]
    return {
        "route_waiting_callers": "workers.agents.dispatch_agents" in urgent,
        "no_response_callbacks": session.scalars(select(Callback).where(
            Callback.ticket_id == world.silent_ticket_id,
            Callback.reason == "no_response")).first() is not None,
        "convert_overdue_oral": session.get(Ticket, world.oral_ticket_id).kind == "written"
        and session.scalars(select(OutboundMessage).where(
            OutboundMessage.ticket_id == world.oral_ticket_id)).first() is not None,
        "resend_emails": f"email-{world.stale_email_id}" in queue(settings, "default").job_ids,
        "purge_expired": conn.exists("callcenter:retention-run") == 1,
    }
