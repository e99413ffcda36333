"""End to end: the running sweep turns an overdue oral complaint written, the customer
gets one SMS saying so, and a supervisor can then extend it once (callcenter/tickets/actions.py).

The oral period of a call on Tue 17 Mar 2026 spans Nyepi, a weekend and Idul Fitri and ends
Wed 25 Mar (see tests/domain/test_complaint_conversion.py for the count).
"""

from __future__ import annotations

from datetime import datetime

import time_machine
from sqlalchemy import select

from callcenter.models import AuditEntry, Ticket
from callcenter.people import users
from callcenter.tickets import lifecycle
from tests.domain.compliance.test_regulation import end_of, wib
from tests.factories import BUDI_PHONE, make_customer
from workers.sweeps import sweep_once

BOSS = ("sinta", "long enough password")


def test_the_sweep_converts_once_the_customer_is_told_once_and_may_be_extended(hotline,
                                                                                session):
    users.create_user(session, *BOSS, "supervisor")
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id,
                                 category="payment_detail", now=wib(2026, 3, 17, 10))
    session.commit()
    client = hotline.live.app.test_client()

    with time_machine.travel(wib(2026, 3, 24, 10)):
        refused = client.post(f"/api/tickets/{ticket.number}/extension",
                              json={"reason": "menunggu data bank"}, auth=BOSS)
        assert refused.status_code == 409 and "oral" in refused.get_json()["message"]

    with time_machine.travel(wib(2026, 3, 26, 8, 5)):
        sweep_once(hotline.settings)
        sweep_once(hotline.settings)
        hotline.run_jobs()
    sent = [m for m in hotline.sim.messages if m["to"] == BUDI_PHONE]
    assert len(sent) == 1
    assert ticket.number in sent[0]["body"] and "pengaduan tertulis" in sent[0]["body"]
    assert "9 April 2026" in sent[0]["body"]
    session.expire_all()
    assert session.get(Ticket, ticket.id).kind == "written"
    assert len(session.scalars(select(AuditEntry).where(
        AuditEntry.action == "convert_to_written")).all()) == 1

    with time_machine.travel(wib(2026, 4, 2, 10)):
        extended = client.post(f"/api/tickets/{ticket.number}/extension",
                               json={"reason": "menunggu data bank"}, auth=BOSS)
    assert extended.status_code == 200, extended.get_json()
    assert datetime.fromisoformat(extended.get_json()["due_at"]) == end_of(2026, 4, 23)
