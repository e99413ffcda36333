"""An agent's call in Indonesian, in a real browser: notes while talking and the wrap-up.

Sari signs in (Bahasa Indonesia), becomes available and takes a call routed through the Twilio
simulator; she writes what the caller says in the pop's note box while a poll passes (the
text survives), saves it, and the caller hangs up. The pop stays as the wrap-up card: a
second caller is not routed to her meanwhile. She finishes the card (anything else asked,
summary, resolve) and the waiting caller is routed to her at once. Screenshots per step.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from callcenter.models import Agent, Contact, Note, Ticket
from callcenter.tickets import lifecycle
from callcenter.voice import agents as agent_registry
from tests.browser.conftest import make_user, sign_in
from tests.e2e.test_inbound_hotline import _verify
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

AGENT_PHONE = "+628110000001"
OTHER_PHONE, OTHER_ORDER = "+6281299990001", "20261002"
POLL_S = 2  # the pop's refresh


def _queue_state(session, sid: str) -> str | None:
    session.expire_all()
    contact = session.scalars(select(Contact).where(Contact.external_id == sid)).first()
    return contact.queue_state if contact else None


def _route_a_caller(hotline, session, phone: str = BUDI_PHONE, order: str = BUDI_ORDER):
    call = hotline.call(phone)
    _verify(call, order)
    call.press("0")  # an agent, please
    eventually(lambda: _queue_state(session, call.sid) == "waiting")
    hotline.run_jobs()  # the dispatcher rings a free agent, if any
    return call


def test_an_agent_notes_the_call_wraps_up_and_is_offered_the_next_caller(
        new_page, hotline, session, shot):
    budi = make_customer(session)
    earlier = lifecycle.open_ticket(session, channel="email", customer_id=budi.id,
                                    category="payment_detail")  # he wrote last week
    lifecycle.resolve(session, earlier, "Bukti transfer sudah kami terima.")  # and it was settled
    agent = agent_registry.add_agent(session, "Sari", phone=AGENT_PHONE, available=False)
    session.commit()
    make_user(session, "sari", "agent", agent_id=agent.id, language="id")
    page = new_page(locale="id-ID")
    sign_in(page, "sari", language="id")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    page.get_by_label("Kehadiran", exact=True).select_option("available")
    page.get_by_role("button", name="Atur kehadiran").click()
    page.wait_for_load_state()
    shot(page, "tersedia")

    # 1. A routed call: the pop shows the caller, with a note box.
    call = _route_a_caller(hotline, session)
    agent_call = hotline.sim.wait_for_call(to=AGENT_PHONE)
    agent_call.wait_for_prompt()
    agent_call.press("1")
    agent_call.wait_for(lambda c: c.bridged)
    pop = page.get_by_role("region", name="Panggilan saat ini")
    expect(pop).to_contain_text("Budi Santoso")
    ticket = session.scalars(select(Ticket).where(Ticket.channel == "voice")).one()
    note_box = pop.get_by_label("Catatan", exact=True)
    note_box.fill("Nasabah bilang sudah transfer tgl 28 lewat BCA.")
    page.wait_for_timeout((POLL_S * 2 + 1) * 1000)  # polls pass: what is typed stays
    expect(note_box).to_have_value("Nasabah bilang sudah transfer tgl 28 lewat BCA.")
    shot(page, "catatan-saat-panggilan")
    pop.get_by_role("button", name="Simpan catatan").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status").first).to_have_text(
        f"Catatan disimpan di tiket {ticket.number}.")
    session.expire_all()
    assert [n.text for n in session.scalars(select(Note))] == [
        "Nasabah bilang sudah transfer tgl 28 lewat BCA."]
    shot(page, "catatan-tersimpan")

    # 2. The call ends: the pop becomes the wrap-up card and stays.
    agent_call.hang_up()
    call.hang_up()
    expect(pop.get_by_role("heading", name="Selesaikan panggilan")).to_be_visible()
    expect(pop).to_contain_text("Nasabah bilang sudah transfer tgl 28 lewat BCA.")
    expect(page.locator("#call-state")).to_have_text("Menyelesaikan panggilan terakhir")
    page.wait_for_timeout((POLL_S * 2 + 1) * 1000)
    expect(pop.get_by_role("heading", name="Selesaikan panggilan")).to_be_visible()
    shot(page, "kartu-penyelesaian")

    # 3. Meanwhile a second caller waits: routing skips the agent who is wrapping up.
    make_customer(session, order_id=OTHER_ORDER, phone=OTHER_PHONE)  # another Budi Santoso
    second = _route_a_caller(hotline, session, OTHER_PHONE, OTHER_ORDER)
    assert len(hotline.sim.find_calls(to=AGENT_PHONE)) == 1

    # 4. She finishes the card: the ticket is resolved with the summary, the card goes...
    pop.get_by_label("Kategori").select_option("payment_detail")
    pop.get_by_label("Saya sudah menanyakan apakah ada hal lain yang bisa dibantu").check()
    pop.get_by_label("Ringkasan yang disampaikan ke pelanggan").fill(
        "Pembayaran tanggal 28 sudah masuk; tagihan lunas.")
    pop.get_by_label("Selesaikan tiket dengan ringkasan").check()
    shot(page, "kartu-diisi")
    pop.get_by_role("button", name="Simpan dan selesai").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status").first).to_have_text(
        "Penyelesaian panggilan selesai. Anda siap menerima panggilan berikutnya.")
    expect(pop).to_contain_text("Tidak ada panggilan saat ini")
    session.expire_all()
    resolved = session.get(Ticket, ticket.id)
    assert resolved.status == "resolved" and resolved.category == "payment_detail"
    assert resolved.summary == "Pembayaran tanggal 28 sudah masuk; tagihan lunas."
    shot(page, "selesai")

    # 5. ... and she is offered the waiting caller at once.
    hotline.run_jobs()
    eventually(lambda: len(hotline.sim.find_calls(to=AGENT_PHONE)) == 2)
    next_offer = hotline.sim.find_calls(to=AGENT_PHONE)[-1]
    assert re.search("Tekan 1 untuk menerima", next_offer.wait_for_prompt())
    session.expire_all()
    assert session.get(Agent, agent.id).wrap_up_until is None
    next_offer.hang_up()
    second.hang_up()

    # 6. Later she looks the caller up by the number he gave, typed as people write it, and
    # sees every ticket of his: this call's and last week's email, both resolved.
    search = page.get_by_role("search")
    search.get_by_label("Cari pelanggan").fill("0812-3456-7890")
    search.get_by_role("button", name="Cari").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_have_text("Budi Santoso")
    main = page.locator("main")
    for number in (ticket.number, earlier.number):
        expect(main.get_by_role("link", name=f"Tiket {number}").first).to_be_visible()
    expect(main).to_contain_text("Telepon")
    expect(main).to_contain_text("Email")
    shot(page, "pelanggan-dicari")


def _fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_wrap_up_card_fits_a_phone_and_lists_the_other_tickets(new_page, hotline, session,
                                                                  shot):
    """At 390 px the card with the customer's other tickets does not scroll sideways."""
    from callcenter.tickets import lifecycle
    from tests.browser.conftest import PHONE
    from tests.domain.tickets.test_wrap_up import _talk_and_hang_up, _waiting_caller

    budi = make_customer(session)
    other = lifecycle.open_ticket(session, channel="email", customer_id=budi.id)
    session.add(Contact(ticket_id=other.id, channel="email", direction="inbound",
                        status="received", subject="Bukti transfer pembayaran bulan November"))
    agent = agent_registry.add_agent(session, "Sari", phone=AGENT_PHONE, available=True)
    session.commit()
    make_user(session, "sari", "agent", agent_id=agent.id, language="id")
    _waiting_caller(session, budi)
    _talk_and_hang_up(session, hotline.settings, agent)
    page = new_page(PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                    locale="id-ID")
    sign_in(page, "sari", language="id")
    pop = page.get_by_role("region", name="Panggilan saat ini")
    expect(pop.get_by_role("heading", name="Selesaikan panggilan")).to_be_visible()
    expect(pop.get_by_role("link", name=other.number)).to_be_visible()
    expect(pop).to_contain_text("Bukti transfer pembayaran bulan November")
    assert _fits_the_screen(page)
    shot(page, "kartu-di-ponsel")


@pytest.mark.parametrize(("language", "viewport"), [("id", "phone"), ("en", "desktop")])
def test_the_live_pop_shows_the_callers_other_open_ticket(new_page, hotline, session, shot,
                                                           language, viewport):
    """During the call, not only on the wrap-up card: the caller's earlier complaint and its
    email are in the pop (a link to that ticket), on a phone in Indonesian and on a desk in
    English, with nothing scrolling sideways."""
    from tests.browser.conftest import DESKTOP, PHONE
    from tests.domain.tickets.test_wrap_up import _sid, _waiting_caller

    budi = make_customer(session)
    other = lifecycle.open_ticket(session, channel="email", customer_id=budi.id)
    session.add(Contact(ticket_id=other.id, channel="email", direction="inbound",
                        status="received", subject="Bukti transfer pembayaran bulan November"))
    agent = agent_registry.add_agent(session, "Sari", phone=AGENT_PHONE, available=True)
    session.commit()
    make_user(session, "sari", "agent", agent_id=agent.id, language=language)
    caller = _waiting_caller(session, budi)
    [(agent_id, token)] = agent_registry.claim_agents(session)
    session.commit()
    leg_sid = _sid()
    agent_registry.agent_leg_placed(session, agent_id, token, leg_sid)
    agent_registry.connect(session, caller.external_id, leg_sid)  # accepted: on the call
    session.commit()
    if viewport == "phone":
        page = new_page(PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                        locale="id-ID")
    else:
        page = new_page(DESKTOP, locale="en-US")
    sign_in(page, "sari", language=language)
    words = {"id": ("Panggilan saat ini", "Tiket lain pelanggan yang masih terbuka"),
             "en": ("Current call", "The customer's other open tickets")}[language]
    pop = page.get_by_role("region", name=words[0])
    expect(pop.get_by_role("heading", name=words[1])).to_be_visible()
    expect(pop.get_by_role("link", name=other.number)).to_be_visible()
    expect(pop).to_contain_text("Bukti transfer pembayaran bulan November")
    assert _fits_the_screen(page)
    shot(page, f"pop-tiket-lain-{language}-{viewport}")
