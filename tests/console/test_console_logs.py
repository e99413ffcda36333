"""Privacy (UU PDP): working a ticket in the console and looking one up on the public
page leave no phone number, Order ID or name in any log record."""

from __future__ import annotations

import logging

from callcenter.tickets import lifecycle
from tests.console.conftest import csrf_from, post_form
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer


def test_console_work_and_a_status_lookup_log_no_personal_data(console, session, caplog):
    caplog.set_level(logging.DEBUG)
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id)
    session.commit()
    page = f"/console/tickets/{ticket.number}"
    agent = console.signed_in("sari", "agent")
    assert "Budi Santoso" in agent.get(page).get_data(as_text=True)  # the agent does see it
    post_form(agent, page, f"{page}/callback", {"call_at": ""})
    post_form(agent, page, f"{page}/documents", {"documents": "KTP\nSlip gaji"})
    post_form(agent, page, f"{page}/resolve", {"summary": "Dijelaskan."})  # refused: documents
    agent.get("/console/tickets?status=all")
    agent.get("/console/pop")

    public = console.client()
    form = public.get("/status").get_data(as_text=True)
    public.post("/status", data={"ticket": ticket.number, "phone": "0812-3456-7890",
                                 "csrf_token": csrf_from(form)})
    public.post("/status", data={"ticket": ticket.number, "phone": "081299998888",
                                 "csrf_token": csrf_from(form)})

    session.expire_all()
    worked = session.get(type(ticket), ticket.id)
    assert worked.callbacks and worked.required_documents  # the actions really ran
    assert worked.status != "resolved"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged  # the actions did log (jobs queued, refusals)
    for secret in (BUDI_PHONE, BUDI_PHONE[1:], "081234567890", "0812-3456-7890", "081299998888",
                   BUDI_ORDER, "Budi Santoso"):
        assert secret not in logged
