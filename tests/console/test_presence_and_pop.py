"""Presence and the screen pop: what an agent sets and sees while calls are routed.

"An agent sets available/busy/away; a routed call pops the caller's verified identity, the
ticket and its history on the agent's screen before they speak (live update, no reload)."
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from callcenter.models import Agent, AuditEntry, Contact, utcnow
from callcenter.tickets import lifecycle
from callcenter.voice import agents
from tests.console.conftest import Console, post_form
from tests.e2e.test_inbound_hotline import _verify
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from tests.support.twilio_client import signed_post
from tests.support.waiting import eventually
from webhooks.app import create_app
from workers.queues import URGENT, queue

AGENT_PHONE = "+628110000001"
PAGE = "/console/templates"  # any console page carries the top bar


def _sid() -> str:
    return "CA" + uuid.uuid4().hex


def _agent(session, name: str = "Sari", phone: str = AGENT_PHONE, *,
           available: bool = False) -> Agent:
    agent = agents.add_agent(session, name, phone=phone, available=available)
    session.commit()
    return agent


def _presence_form(html: str) -> str:
    found = re.search(r'<form class="presence".*?</form>', html, re.S)
    assert found, "no presence switch on the page"
    return found.group(0)


def _selected_presence(html: str) -> str:
    found = re.search(r'<option value="(\w+)" selected>', _presence_form(html))
    assert found, "no presence selected"
    return found.group(1)


def _waiting_caller(session) -> tuple[str, str]:
    """A verified caller the IVR put in the agent queue (ticket with a reason); (sid, number)."""
    budi = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id)
    ticket.reason = "asked for an agent"
    sid = _sid()
    session.add(Contact(
        channel="voice", direction="inbound", external_id=sid, from_number=BUDI_PHONE,
        verified=True, ticket_id=ticket.id, queue_state="waiting", queued_at=utcnow(),
        ivr_state={"lang": "id", "customer_id": budi.id,
                   "told": [{"topic": "balance", "summary": "Tagihan Rp 1.250.000"}]}))
    session.commit()
    return sid, ticket.number or ""


def _ring(session, agent_id: int) -> str:
    """The dispatcher's work (workers/agents.py) without Twilio: claim, place a ringing leg."""
    claimed = agents.claim_agents(session)
    assert [a for a, _ in claimed] == [agent_id]
    leg_sid = _sid()
    session.commit()  # as the dispatcher does, before placing the call
    session.expire_all()  # its session has no stale Agent rows (ours has: no expire on commit)
    agents.agent_leg_placed(session, agent_id, claimed[0][1], leg_sid)
    session.commit()
    return leg_sid


# -- presence ----------------------------------------------------------------------------------

def test_an_agent_has_the_presence_switch_and_sees_whether_on_a_call(console, session):
    agent = _agent(session)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    html = client.get(PAGE).get_data(as_text=True)
    assert '<label for="presence-choice">Presence</label>' in html
    assert re.findall(r"<option value=\"\w+\"[^>]*>(\w+)</option>", _presence_form(html)) == [
        "Available", "Busy", "Away"]
    assert ">Set presence</button>" in html
    assert _selected_presence(html) == "away" and "no call" in html and "On a call" not in html

    agent.current_call_sid = _sid()  # routed a call (ringing or talking)
    session.commit()
    assert "On a call" in client.get(PAGE).get_data(as_text=True)


def test_users_not_linked_to_an_agent_have_no_presence_switch(console, session):
    page = console.signed_in("budi", "supervisor").get(PAGE)
    html = page.get_data(as_text=True)
    assert "Set presence" not in html and "Presence" not in html
    refused = post_form(console.signed_in("ani", "agent"), PAGE, "/console/presence",
                        {"presence": "available"})
    assert refused.status_code == 403


def test_setting_busy_persists_takes_the_agent_off_routing_and_is_audited(console, session):
    agent = _agent(session, available=True)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    reply = post_form(client, PAGE, "/console/presence",
                      {"presence": "busy", "next": PAGE})
    assert reply.status_code == 302 and reply.headers["Location"] == PAGE
    page = client.get(PAGE).get_data(as_text=True)
    assert "Presence set to Busy." in page and _selected_presence(page) == "busy"
    session.expire_all()
    stored = session.get(Agent, agent.id)
    assert stored.presence == "busy" and not stored.available
    assert not agents.any_agent_free(session)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "set_presence")).one()
    assert audit.actor == "user:sari" and audit.subject == f"agent:{agent.id}"
    assert audit.detail == "available -> busy"


def test_presence_needs_the_csrf_token_and_a_known_choice(console, session):
    agent = _agent(session)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    assert client.post("/console/presence", data={"presence": "available"}).status_code == 400
    odd = post_form(client, PAGE, "/console/presence", {"presence": "asleep"})
    assert odd.status_code == 302
    assert "Choose Available, Busy or Away." in client.get(PAGE).get_data(as_text=True)
    assert post_form(client, PAGE, "/console/presence",
                     {"presence": "busy", "next": "https://evil.example/"}
                     ).headers["Location"] == "/console/"
    session.expire_all()
    assert session.get(Agent, agent.id).presence == "busy"


def test_becoming_available_while_a_caller_waits_queues_the_dispatcher(console, session,
                                                                     settings):
    _waiting_caller(session)
    agent = _agent(session)
    urgent = queue(settings, URGENT)
    assert urgent.count == 0
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    post_form(client, PAGE, "/console/presence", {"presence": "available"})
    jobs = urgent.get_jobs()
    assert [job.func_name for job in jobs] == ["workers.agents.dispatch_agents"]
    session.expire_all()
    assert agents.claim_agents(session) != []  # the job will find her free for the caller
    session.rollback()


def test_a_missed_routed_call_sets_the_agent_away(console, session):
    """An agent who does not pick up is not offered the next caller (presence "away")."""
    _waiting_caller(session)
    agent = _agent(session, available=True)
    leg_sid = _ring(session, agent.id)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    reply = signed_post(client, "/twilio/voice/status", {
        "CallSid": leg_sid, "CallStatus": "no-answer", "SequenceNumber": "2",
        "Direction": "outbound-api"})
    assert reply.status_code == 204
    html = client.get(PAGE).get_data(as_text=True)
    assert _selected_presence(html) == "away"
    session.expire_all()
    assert not session.get(Agent, agent.id).available


# -- screen pop --------------------------------------------------------------------------------

def _pop(client) -> str:
    reply = client.get("/console/pop", headers={"HX-Request": "true"})
    assert reply.status_code == 200 and reply.mimetype == "text/html"
    return reply.get_data(as_text=True)


def _accept(client, leg_sid: str) -> str:
    """The agent pressed 1 on their phone: the leg is linked to the caller, the whisper
    starts (its TwiML is returned)."""
    reply = signed_post(client, "/twilio/voice/agent/accept", {"CallSid": leg_sid, "Digits": "1"})
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def test_the_pop_shows_the_caller_once_the_agent_accepted_the_call(console, session):
    _, number = _waiting_caller(session)
    sari = _agent(session, available=True)
    dewi = _agent(session, "Dewi", "+628110000002")
    client = console.signed_in("sari", "agent", agent_id=sari.id)
    other = console.signed_in("dewi", "agent", agent_id=dewi.id)
    assert "No call right now" in _pop(client)

    leg_sid = _ring(session, sari.id)
    ringing = _pop(client)
    assert "Call ringing…" in ringing and "Budi" not in ringing and number not in ringing

    whisper = _accept(client, leg_sid)
    assert "Pelanggan terverifikasi" in whisper
    pop = _pop(client)
    assert "<h2>Incoming call</h2>" in pop
    assert "Budi Santoso" in pop and BUDI_ORDER in pop and number in pop
    # Why and what, in words (callcenter/labels.py), never the stored codes.
    assert "The caller asked for an agent" in pop and "Question" in pop
    assert "inquiry" not in pop
    assert "Tagihan Rp 1.250.000" in pop  # what the IVR already told them
    assert BUDI_PHONE not in pop and "7890" in pop  # the number, masked
    assert f'href="/console/tickets/{number}">Open ticket</a>' in pop
    assert "this call" in pop  # the ticket's history includes the current call
    # The top bar's call state follows without a reload (htmx out-of-band swap).
    assert re.search(r'<span id="call-state" hx-swap-oob="true"[^>]*>On a call</span>', pop)

    other_view = _pop(other)
    assert "No call right now" in other_view and "Budi" not in other_view
    assert re.search(r'<span id="call-state" hx-swap-oob="true"[^>]*>Away, no call</span>',
                     other_view)


def test_the_pop_shows_the_callers_other_open_ticket_while_on_the_call(console, session):
    """The "Recent contacts" of a verified caller span their tickets and channels, and their
    other open ticket is a link, during the call (not only on the wrap-up card)."""
    caller_sid, number = _waiting_caller(session)
    caller = session.scalars(select(Contact).where(Contact.external_id == caller_sid)).one()
    earlier = lifecycle.open_ticket(session, channel="email",
                                    customer_id=caller.ivr_state["customer_id"])
    session.add(Contact(channel="email", direction="inbound", ticket_id=earlier.id,
                        subject="Denda keterlambatan", started_at=utcnow()))
    session.commit()
    agent = _agent(session, available=True)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    _accept(client, _ring(session, agent.id))
    pop = _pop(client)
    assert "The customer's other open tickets" in pop
    assert f'<a href="/console/tickets/{earlier.number}">{earlier.number}</a>' in pop
    assert re.search(rf"Email · Incoming\s+· In progress · ticket {earlier.number} · Denda "
                     "keterlambatan", pop)
    assert number in pop and "this call" in pop


def test_an_unverified_caller_pops_as_not_verified(console, session):
    caller_sid, number = _waiting_caller(session)
    caller = session.scalars(select(Contact).where(Contact.external_id == caller_sid)).one()
    caller.verified = False
    session.commit()
    agent = _agent(session, available=True)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    _accept(client, _ring(session, agent.id))
    pop = _pop(client)
    assert "Not verified" in pop and "Budi" not in pop and number in pop


def test_showing_a_callers_identity_is_audited_once_per_leg(console, session):
    caller_sid, number = _waiting_caller(session)
    agent = _agent(session, available=True)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    leg_sid = _ring(session, agent.id)
    _pop(client)  # ringing: no personal data yet, nothing to audit
    _accept(client, leg_sid)
    for _ in range(4):  # the region refreshes every 2 s
        assert "Budi Santoso" in _pop(client)
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "screen_pop")).all()
    assert [(r.actor, r.subject, r.detail) for r in rows] == [
        ("user:sari", f"ticket:{number}", leg_sid)]

    # The call ends: the pop stays as the wrap-up card (audited once more, as it shows the
    # customer's other tickets and contacts) until the agent finishes it.
    signed_post(client, "/twilio/voice/status", {
        "CallSid": leg_sid, "CallStatus": "completed", "SequenceNumber": "4"})
    for _ in range(2):
        assert "Wrap up the call" in _pop(client)
    post_form(client, PAGE, "/console/wrap-up", {"next_step": "wait"})
    assert "No call right now" in _pop(client)
    # The next call to the same ticket is a new leg: shown (and audited) again.
    second_caller = _sid()
    first = session.scalars(select(Contact).where(Contact.external_id == caller_sid)).one()
    session.add(Contact(channel="voice", direction="inbound", external_id=second_caller,
                        from_number=BUDI_PHONE, verified=True, ticket_id=first.ticket_id,
                        queue_state="waiting", queued_at=utcnow(), ivr_state=first.ivr_state))
    session.commit()
    second_leg = _ring(session, agent.id)
    _accept(client, second_leg)
    _pop(client)
    _pop(client)
    session.expire_all()
    details = [r.detail for r in session.scalars(
        select(AuditEntry).where(AuditEntry.action == "screen_pop").order_by(AuditEntry.id))]
    assert details == [leg_sid, f"{leg_sid} wrap-up", second_leg]


def test_every_console_page_of_an_agent_carries_the_live_region(console, session):
    agent = _agent(session)
    region = console.signed_in("sari", "agent", agent_id=agent.id).get(PAGE).get_data(
        as_text=True)
    assert '<section class="screen-pop" aria-label="Current call" aria-live="polite"' in region
    assert 'hx-get="/console/pop" hx-trigger="load, every 2s" hx-swap="innerHTML"' in region
    # Only its fingerprint goes back with each poll, never what the agent types in the pop.
    assert 'hx-include="#pop-seen"' in region
    assert '<input type="hidden" id="pop-seen" name="seen" value="">' in region
    boss = console.signed_in("boss", "supervisor").get(PAGE).get_data(as_text=True)
    assert 'aria-label="Current call"' not in boss


def test_an_unchanged_pop_is_not_swapped_again(console, session):
    """The live region is re-announced by screen readers on every swap: a poll that would show
    the same thing answers 204 (htmx swaps nothing); a change answers with the new fragment."""
    _waiting_caller(session)
    agent = _agent(session, available=True)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    leg_sid = _ring(session, agent.id)
    first = _pop(client)
    seen = re.search(r'<input type="hidden" id="pop-seen" name="seen" value="(\w+)"',
                     first).group(1)
    again = client.get(f"/console/pop?seen={seen}", headers={"HX-Request": "true"})
    assert again.status_code == 204 and again.get_data() == b""
    _accept(client, leg_sid)
    changed = client.get(f"/console/pop?seen={seen}", headers={"HX-Request": "true"})
    assert changed.status_code == 200 and "Budi Santoso" in changed.get_data(as_text=True)


def test_the_pop_needs_a_signed_in_user(console):
    stranger = console.client().get("/console/pop", headers={"HX-Request": "true"})
    assert stranger.status_code == 401 and stranger.headers["HX-Redirect"] == "/console/login"


def test_pop_and_widget_markup_obey_the_content_security_policy(console, session):
    _waiting_caller(session)
    agent = _agent(session, available=True)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    _accept(client, _ring(session, agent.id))
    for html in (_pop(client), client.get(PAGE).get_data(as_text=True)):
        assert "style=" not in html and "<style" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert not re.search(r"\son[a-z]+=", html)


def test_a_waiting_caller_reaches_the_agent_who_turns_available_and_pops(hotline, session):
    """End to end through the Twilio simulator: the caller waits with nobody available; the
    agent sets Available in the console; the dispatcher rings her; the pop shows Budi."""
    make_customer(session)
    agent = _agent(session)
    console = Console(create_app(hotline.settings), session)
    client = console.signed_in("sari", "agent", agent_id=agent.id)
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.press("0")
    eventually(lambda: session.expire_all() or session.scalars(select(Contact).where(
        Contact.external_id == call.sid, Contact.queue_state == "waiting")).first())
    hotline.run_jobs()  # the dispatch queued with the caller finds nobody available
    assert hotline.sim.find_calls(to=AGENT_PHONE) == []
    assert "No call right now" in _pop(client)

    post_form(client, PAGE, "/console/presence", {"presence": "available"})
    hotline.run_jobs()  # the dispatch job the presence change queued
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    assert "Tekan 1 untuk menerima" in agent_call.wait_for_prompt()
    agent_call.press("1")
    eventually(lambda: agent_call.bridged)  # the whisper was heard, the caller connected
    pop = eventually(lambda: (lambda html: "Budi Santoso" in html and html)(_pop(client)))
    ticket_number = session.scalars(select(Contact).where(
        Contact.external_id == call.sid)).one().ticket.number
    assert ticket_number in pop and "Open ticket" in pop
    agent_call.hang_up()
    eventually(lambda: "Wrap up the call" in _pop(client))  # the card stays after the call
    call.hang_up()
