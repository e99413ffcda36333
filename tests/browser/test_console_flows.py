"""The console and the public pages in a real browser.

Headless Chromium signs in, receives a routed call through the Twilio simulator and sees the
screen pop without reloading, replies with a QA-approved template (P3.3), schedules a
callback (P2.1), resolves a ticket with a summary (P1.8), watches the supervisor's charts
change live, and a customer reads the procedure and looks a ticket up on a phone (X3).
Every page visited is saved under test-artifacts/screenshots/.

The pages are found by the accessible names of the console's UI contract (labels, roles,
button names), as a person using a screen reader would find them.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from callcenter.callbacks import policy
from callcenter.content import Content
from callcenter.models import Agent, Callback, Contact, OutboundEmail, Ticket
from callcenter.tickets import lifecycle
from callcenter.voice import agents as agent_registry
from tests.browser.conftest import make_user, sign_in
from tests.console.conftest import PASSWORD
from tests.e2e.test_inbound_hotline import _verify
from tests.factories import BUDI_PHONE, make_customer
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

AGENT_PHONE = "+628110000001"
LIVE_REFRESH_MS = 15_000  # the floor refreshes every 5 s: allow for three rounds
NO_RELOAD = "window.__sameDocument"
OPEN_IN_WORDS = Content.load(None).lookup("id", "ticket_statuses", "open")  # "sedang kami proses"


def _mark_document(page) -> None:
    """Tag the loaded document: a reload or navigation would lose the tag."""
    page.evaluate(f"{NO_RELOAD} = true")


def _same_document(page) -> bool:
    return page.evaluate(f"{NO_RELOAD} === true")


def _ticket(session, customer_id: int, channel: str = "voice") -> Ticket:
    ticket = lifecycle.open_ticket(session, channel=channel, customer_id=customer_id)
    session.commit()
    return ticket


def _flash(page):
    """The message shown after an action (role=status)."""
    return page.get_by_role("status").first


def _timeline(page):
    return page.get_by_role("list", name="Timeline")


def _open_ticket_page(page, number: str, shot, step: str) -> None:
    page.goto(f"/console/tickets/{number}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Ticket {number}")
    shot(page, step)


# -- a. sign-in ----------------------------------------------------------------------------

def test_sign_in_refuses_a_wrong_password_and_lands_each_role_on_its_home(
        new_page, session, shot):
    """Sign-in: a wrong password is refused with a message; each role starts on its
    own page (agent: the queue, supervisor: the floor, QA: the templates)."""
    make_user(session, "sari", "agent")
    make_user(session, "dewi", "supervisor")
    make_user(session, "qori", "qa")
    page = new_page()
    sign_in(page, "sari", "not the password")
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    expect(page).to_have_url(re.compile(r"/console/login"))
    shot(page, "wrong-password")

    homes = {"sari": r"/console/tickets(\?.*)?$", "dewi": r"/console/floor(\?.*)?$",
             "qori": r"/console/templates(\?.*)?$"}
    for username, home in homes.items():
        person = page if username == "sari" else new_page()
        sign_in(person, username, PASSWORD)
        expect(person).to_have_url(re.compile(home))
        expect(person.get_by_role("button", name="Sign out")).to_be_visible()
        shot(person, f"home-{username}")


# -- b. screen pop -------------------------------------------------------------------------

def test_a_routed_call_pops_the_verified_caller_and_ticket_without_a_reload(
        page, hotline, session, shot):
    """The caller's verified identity and ticket reach the agent before they speak."""
    make_customer(session)
    agent = agent_registry.add_agent(session, "Sari", phone=AGENT_PHONE, available=False)
    session.commit()
    make_user(session, "sari", "agent", agent_id=agent.id)
    sign_in(page, "sari")
    pop = page.get_by_role("region", name="Current call")
    expect(pop).to_be_visible()
    expect(pop).not_to_contain_text("Budi Santoso")
    page.get_by_label("Presence", exact=True).select_option("Available")
    page.get_by_role("button", name="Set presence").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Presence", exact=True)).to_have_value(
        re.compile("available", re.I))
    eventually(lambda: _agent_available(session, agent.id), timeout=5)
    shot(page, "available")
    _mark_document(page)

    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.press("0")  # an agent, please
    eventually(lambda: _queue_state(session, call.sid) == "waiting")
    hotline.run_jobs()  # the dispatcher rings the free agent
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    assert "Tekan 1 untuk menerima" in agent_call.wait_for_prompt()
    agent_call.press("1")  # the agent accepts: the whisper plays, the pop shows the caller
    agent_call.wait_for(lambda c: c.bridged)
    assert "Budi Santoso" in " ".join(agent_call.said)
    ticket = eventually(lambda: session.scalars(select(Ticket)).first())

    expect(pop).to_contain_text("Budi Santoso")
    expect(pop).to_contain_text(ticket.number)
    expect(pop.get_by_role("link", name="Open ticket")).to_be_visible()
    assert _same_document(page), "the page reloaded: the pop must arrive live"
    shot(page, "screen-pop")

    pop.get_by_role("link", name="Open ticket").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Ticket {ticket.number}")
    shot(page, "ticket-from-pop")
    agent_call.hang_up()
    call.hang_up()


def _agent_available(session, agent_id: int) -> bool:
    session.expire_all()
    return session.get(Agent, agent_id).available


def _queue_state(session, sid: str) -> str | None:
    session.expire_all()
    contact = session.scalars(select(Contact).where(Contact.external_id == sid)).first()
    return contact.queue_state if contact else None


# -- c. reply with an approved template ------------------------------------------------------

def _fill(field, value: str) -> None:
    """A text box is typed into, a select is chosen from (by value or visible label)."""
    if field.evaluate("e => e.tagName") == "SELECT":
        field.select_option(value)
    else:
        field.fill(value)


def test_an_agent_replies_with_a_template_qa_approved(new_page, session, shot):
    """P3.3: an agent drafts, QA approves (four eyes), the agent sends it from the ticket."""
    budi = make_customer(session)
    ticket = _ticket(session, budi.id, channel="email")
    make_user(session, "sari", "agent")
    make_user(session, "qori", "qa")

    agent = new_page()
    sign_in(agent, "sari")
    agent.goto("/console/templates")
    shot(agent, "templates-agent")
    _fill(agent.get_by_label("Key", exact=True), "status-checked")
    _fill(agent.get_by_label("Language", exact=True), "id")
    _fill(agent.get_by_label("Channel", exact=True), "email")
    agent.get_by_label("Subject", exact=True).fill("Tiket {ticket}")
    agent.get_by_label("Body", exact=True).fill(
        "Halo {name}, pengaduan Anda dengan tiket {ticket} sudah kami periksa.")
    agent.get_by_role("button", name="Save draft").click()
    expect(_flash(agent)).to_contain_text("saved")
    expect(agent.get_by_role("link", name="Read and review")).to_have_count(0)  # its author
    shot(agent, "draft-saved")

    qa = new_page()
    sign_in(qa, "qori")
    qa.goto("/console/templates")
    expect(qa.get_by_text("status-checked").first).to_be_visible()
    qa.get_by_role("link", name="Read and review").click()
    review = qa.locator("section[aria-labelledby=review-h]")
    expect(review).to_contain_text("sudah kami periksa.")  # the full text, with the buttons
    shot(qa, "review")
    review.get_by_role("button", name="Approve this text").click()
    expect(_flash(qa)).to_contain_text("approved")
    expect(qa.get_by_role("link", name="Read and review")).to_have_count(0)
    shot(qa, "approved")

    _open_ticket_page(agent, ticket.number, shot, "ticket-before-reply")
    choice = agent.get_by_label("Template", exact=True)
    option = choice.locator("option", has_text="status-checked").first
    choice.select_option(option.get_attribute("value"))
    agent.get_by_role("button", name="Send reply").click()
    expect(_flash(agent)).to_contain_text("status-checked")
    sent = f"Halo Budi Santoso, pengaduan Anda dengan tiket {ticket.number} sudah kami periksa."
    expect(_timeline(agent)).to_contain_text(sent)
    shot(agent, "reply-sent")
    session.expire_all()
    email = session.scalars(select(OutboundEmail).where(
        OutboundEmail.ticket_id == ticket.id)).one()
    assert email.to_address == "budi@example.com" and sent in email.body


# -- d. schedule a callback ------------------------------------------------------------------

def test_an_agent_schedules_a_callback_from_the_ticket(page, session, shot):
    """P2.1/P2.2a: a callback owed to the customer, on their own number, on the ticket."""
    budi = make_customer(session)
    ticket = _ticket(session, budi.id)
    make_user(session, "sari", "agent")
    sign_in(page, "sari")
    _open_ticket_page(page, ticket.number, shot, "ticket")
    section = page.get_by_role("heading", name="Schedule a callback")
    expect(section).to_be_visible()
    page.get_by_role("button", name="Schedule callback").click()
    expect(_flash(page)).to_contain_text("Callback scheduled for")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Ticket {ticket.number}")
    expect(_timeline(page)).to_contain_text(re.compile("callback", re.I))
    shot(page, "callback-scheduled")
    session.expire_all()
    callback = session.scalars(select(Callback).where(Callback.ticket_id == ticket.id)).one()
    assert callback.status == "scheduled" and callback.phone == BUDI_PHONE


# -- e. resolve with a summary ---------------------------------------------------------------

def test_an_agent_resolves_a_ticket_with_the_summary_the_customer_is_told(page, session, shot):
    """P1.8: the summary is what the customer is told; the ticket shows as resolved."""
    budi = make_customer(session)
    ticket = _ticket(session, budi.id)
    make_user(session, "sari", "agent")
    sign_in(page, "sari")
    _open_ticket_page(page, ticket.number, shot, "ticket")
    summary = "Tagihan Anda sudah lunas; tidak ada tagihan tambahan."
    page.get_by_label("Summary for the customer", exact=True).fill(summary)
    page.get_by_role("button", name="Resolve ticket").click()
    expect(_flash(page)).to_contain_text("resolved")
    main = page.locator("main")
    expect(main).to_contain_text(re.compile(r"Status\s*Resolved"))  # the ticket's details
    expect(main).to_contain_text(summary)
    shot(page, "resolved")
    session.expire_all()
    stored = session.get(Ticket, ticket.id)
    assert stored.status == "resolved" and stored.summary == summary


# -- f. supervisor floor ---------------------------------------------------------------------

CHARTS = ("calls_per_hour", "queue", "abandonment", "callbacks", "tickets_by_category",
          "tickets_by_status", "due")


def _sum_of(page, chart: str) -> int:
    return int(sum(float(v) for v in page.locator(
        f'[data-chart="{chart}"] [data-value]').evaluate_all(
        "els => els.map(e => e.getAttribute('data-value'))")))


def test_the_floor_charts_change_live_when_work_arrives(page, hotline, session, shot):
    """Supervisor view: callbacks scheduled and calls counted, refreshed without reload."""
    budi = make_customer(session)
    make_user(session, "dewi", "supervisor")
    sign_in(page, "dewi")
    page.goto("/console/floor")
    for chart in CHARTS:
        figure = page.locator(f'figure[data-chart="{chart}"]')
        expect(figure).to_have_count(1)
        expect(figure.locator("figcaption")).to_be_visible()
    scheduled = page.locator('[data-chart="callbacks"] [data-label="scheduled"]')
    before = int(float(scheduled.get_attribute("data-value")))
    calls_before = _sum_of(page, "calls_per_hour")
    shot(page, "floor-before")
    _mark_document(page)

    ticket = _ticket(session, budi.id)
    policy.request_callback(session, hotline.settings, ticket, reason="more_explanation")
    session.commit()
    call = hotline.call(BUDI_PHONE)
    call.wait_for_prompt()
    call.hang_up()

    expect(scheduled).to_have_attribute("data-value", re.compile(rf"^{before + 1}(\.0+)?$"),
                                        timeout=LIVE_REFRESH_MS)
    eventually(lambda: _sum_of(page, "calls_per_hour") > calls_before, timeout=15)
    assert _same_document(page), "the floor reloaded: charts must refresh live"
    shot(page, "floor-after")


# -- g. public pages on a phone --------------------------------------------------------------

def _fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_customer_reads_the_procedure_and_looks_up_a_ticket_on_a_phone(
        customer_phone_page, session, shot):
    """X3: the procedure in both languages; the look-up tells the status, and only that."""
    budi = make_customer(session)
    ticket = _ticket(session, budi.id)
    page = customer_phone_page
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tata Cara Pengaduan Pengguna")
    expect(page.get_by_role("heading", name="Cara menyampaikan pengaduan")).to_be_visible()
    assert _fits_the_screen(page), "the procedure page scrolls sideways at 390 px"
    shot(page, "procedure-id")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("How to make a complaint")
    assert _fits_the_screen(page), "the English procedure scrolls sideways at 390 px"
    shot(page, "procedure-en")

    page.goto("/status")
    page.get_by_label("Nomor tiket (Ticket number)", exact=True).fill(ticket.number)
    page.get_by_label("Nomor telepon (Phone number)", exact=True).fill("+6281399999999")
    page.get_by_role("button", name="Cek status").click()
    expect(page.get_by_role("alert")).to_contain_text("tidak dapat menemukan")
    expect(page.locator("main")).not_to_contain_text(OPEN_IN_WORDS)
    shot(page, "status-wrong-phone")

    page.goto("/status")
    page.get_by_label("Nomor tiket (Ticket number)", exact=True).fill(ticket.number)
    page.get_by_label("Nomor telepon (Phone number)", exact=True).fill("0812-3456-7890")
    page.get_by_role("button", name="Cek status").click()
    found = page.locator("main")
    expect(page.get_by_role("heading", level=1)).to_have_text("Status pengaduan Anda")
    expect(found).to_contain_text(OPEN_IN_WORDS)
    text = found.inner_text()
    for private in ("Budi", "20261001", "7890", "Cankul Tunai"):
        assert private not in text, f"the status page shows {private!r}"
    assert _fits_the_screen(page), "the status page scrolls sideways at 390 px"
    shot(page, "status-found")
