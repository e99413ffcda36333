"""Words, not codes: no page shows a requirement number ("P2.2a", "X3") or a stored code
(``agent_request``, ``pending_documents``, ``in-progress``, ``walk_in``, the IVR's
``ask_order:20261001``) to the people who use it.

Every console page is rendered for every role over a realistic floor (tickets on every
channel and in every state, calls with their legs and menu paths, callbacks, documents,
replies waiting in the outbox, templates in every state, locked and deactivated users, a live
call on an agent's screen), in Indonesian and in English, and its visible text is scanned:
text nodes and the attributes people hear or read (``aria-label``, ``title``, ``placeholder``,
``alt``). ``<code>`` and ``<pre>`` are records shown verbatim (an audit row's detail, a
template's text) and are left out.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from callcenter import statuses
from callcenter.labels import LABELS
from callcenter.models import (
    Agent,
    Callback,
    Contact,
    OutboundEmail,
    OutboundMessage,
    RequiredDocument,
    Template,
    User,
    utcnow,
)
from callcenter.tickets import documents
from callcenter.voice import agents
from tests.factories import BUDI_PHONE, make_customer, make_ticket
from tests.support.twilio_client import signed_post

AGENT_PHONE = "+628110000001"
HEARD = ("aria-label", "title", "placeholder", "alt")
VERBATIM = {"code", "pre", "script", "style", "textarea"}
REQUIREMENT = re.compile(r"(?<![\w/.])(?:P[1-4](?:\.\d+[a-z]?)?|X[1-3])(?![\w.])")
# Every stored code spelled with "_" or "-", and the IVR's node names.
JOINED_CODES = sorted(
    {str(code) for table in LABELS.values() for code in table if re.search(r"[_-]", str(code))}
    | {member.value for enum in (statuses.TicketStatus, statuses.CallStatus,
                                 statuses.CallbackStatus, statuses.MessageStatus,
                                 statuses.VisitStatus) for member in enum
       if re.search(r"[_-]", member.value)}
    | {"agent_leg", "walk_in", "ask_order", "ask_phone", "ask_ticket", "confirm_name",
       "open_ticket", "anything_else"}, key=len, reverse=True)
# Codes that are plain English words: an Indonesian page must not show them at all.
ENGLISH_CODES = ("open", "resolved", "inbound", "outbound", "voice", "scheduled", "dialing",
                 "completed", "cancelled", "canceled", "ringing", "queued", "busy", "failed",
                 "delivered", "undelivered", "received", "replied", "pending", "draft",
                 "approved", "retired", "available", "away", "oral", "written", "inquiry",
                 "unverified", "disbursed", "submitted", "rejected", "agent",
                 "human", "unknown")


class VisibleText(HTMLParser):
    """The text a person reads or hears on the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VERBATIM:
            self._hidden += 1
        self.parts += [value for name, value in attrs if name in HEARD and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in VERBATIM:
            self._hidden = max(self._hidden - 1, 0)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)

    @classmethod
    def of(cls, html: str) -> str:
        parser = cls()
        parser.feed(html)
        return " ".join(" ".join(parser.parts).split())


def codes_on(text: str, language: str) -> list[str]:
    found = REQUIREMENT.findall(text)
    found += [code for code in JOINED_CODES
              if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text)]
    if language == "id":
        found += [word for word in ENGLISH_CODES
                  if re.search(rf"(?<![\w@./-]){word}(?![\w@./-])", text)]
    return found


@pytest.fixture
def floor(console, session, settings):
    """A busy floor: what the console shows on a real shift."""
    now = utcnow()
    budi = make_customer(session)
    sari_agent = agents.add_agent(session, "Sari", phone=AGENT_PHONE, available=True)
    session.commit()
    people = {
        "agent": console.user("sari", "agent", agent_id=sari_agent.id, language=None),
        "supervisor": console.user("dewi", "supervisor", language=None),
        "qa": console.user("qori", "qa", language=None),
        "admin": console.user("adi", "admin", language=None),
    }
    locked = console.user("lina", "agent", language=None)
    locked.locked_until, locked.failed_logins = now + timedelta(minutes=10), 0
    gone = console.user("gone", "agent", language=None)
    gone.active = False

    call = make_ticket(session, channel="voice", customer=budi, owner=people["agent"],
                       due=now + timedelta(hours=20))
    call.category, call.reason = "agent_request", "asked for an agent"
    session.add_all([
        Contact(ticket_id=call.id, channel="voice", direction="inbound", status="completed",
                external_id="CA" + "1" * 32, from_number=BUDI_PHONE, verified=True,
                duration_s=185, started_at=now - timedelta(hours=3),
                menu_path=["language:1", "ask_order:20261001", "confirm_name:1", "menu:3",
                           "anything_else:1", "menu:0"],
                answers=[{"topic": "bill", "said": "Tagihan Anda Rp 1.250.000"}]),
        Contact(ticket_id=call.id, channel="voice", direction="outbound", kind="agent_leg",
                agent_id=sari_agent.id, status="completed", external_id="CA" + "2" * 32,
                started_at=now - timedelta(hours=3), answered_by="human"),
    ])
    dropped = Callback(ticket_id=call.id, reason="dropped_call", status="failed",
                       phone=BUDI_PHONE, due_at=now - timedelta(hours=2), attempts=4,
                       last_error="not reached after 4 attempts (no-answer)",
                       created_at=now - timedelta(hours=2, minutes=55))
    later = Callback(ticket_id=call.id, reason="more_explanation", status="scheduled",
                     phone=BUDI_PHONE, due_at=now + timedelta(hours=1), attempts=1,
                     last_error="busy", created_at=now - timedelta(hours=1))
    session.add_all([dropped, later])
    session.flush()
    session.add(Contact(ticket_id=call.id, channel="voice", direction="outbound",
                        kind="callback", callback_id=dropped.id, status="no-answer",
                        answered_by="machine_start", external_id="CA" + "3" * 32,
                        started_at=now - timedelta(hours=2)))

    mail = make_ticket(session, status="pending_customer", channel="email",
                       due=now + timedelta(days=5))
    mail.category, mail.customer_email = "unverified", "orang@example.net"
    stranger_mail = Contact(ticket_id=mail.id, channel="email", direction="inbound",
                            status="received", sender="orang@example.net",
                            sender_verified=False, subject="Tagihan saya salah",
                            body="Mohon dicek.", started_at=now - timedelta(days=1))
    session.add(stranger_mail)
    session.add(OutboundEmail(ticket_id=mail.id, to_address="orang@example.net",
                              subject="Re: Tagihan saya salah", body="Terima kasih.",
                              message_id="<scan-1@cankul.co.id>", status="failed",
                              attempts=3, last_error="SMTP 550 mailbox unavailable"))

    chat = make_ticket(session, status="pending_documents", channel="whatsapp", customer=budi)
    chat.category = "payment_detail"
    chat_message = Contact(ticket_id=chat.id, channel="whatsapp", direction="inbound",
                           status="received", sender=BUDI_PHONE,
                           body="Bukti transfer menyusul", started_at=now - timedelta(hours=5))
    session.add(chat_message)
    session.add(RequiredDocument(ticket_id=chat.id, name="Bukti transfer"))
    session.add(OutboundMessage(ticket_id=chat.id, channel="whatsapp", to_number=BUDI_PHONE,
                                body="Mohon kirim bukti transfer.", status="pending"))
    session.flush()
    documents.receive_document(session, chat, settings=settings, filename="mutasi.pdf",
                               content_type="application/pdf", data=b"%PDF" + b"x" * 3000,
                               source="whatsapp", now=now - timedelta(hours=4))

    desk = make_ticket(session, status="resolved", channel="walk_in", customer=budi)
    desk.category, desk.summary, desk.resolved_at = "inquiry", "Sudah dijelaskan.", now
    closed_visit = Contact(ticket_id=desk.id, channel="walk_in", direction="inbound",
                           status="completed", body="Datang ke kantor", started_at=now,
                           answers=[{"said": "Cara pembayaran sudah dijelaskan"}])
    open_visit = Contact(ticket_id=chat.id, channel="walk_in", direction="inbound",
                         status="in-progress", body="Membawa bukti transfer", started_at=now,
                         verified=True, ivr_state={"language": "en"},
                         answers=[{"topic": "anything_else", "said": "Anything else?",
                                   "reply": "yes"}])
    session.add_all([closed_visit, open_visit])

    late = make_ticket(session, channel="sms", customer=budi, due=now - timedelta(days=3))
    late.category, late.reason = "app_failure", "no input at menu"
    near = make_ticket(session, channel="voice", customer=budi, due=now + timedelta(hours=2))
    near.category, near.reason = "callback_request", "callback: more explanation"
    again = make_ticket(session, channel="voice", customer=budi, due=now + timedelta(days=2))
    again.category, again.reason = "payment_detail", "continuing payment_detail"

    for key, status, author, approver in (("pengingat.tagihan", "draft", "agent", None),
                                          ("konfirmasi.bayar", "approved", "agent", "qa"),
                                          ("salam.lama", "retired", "agent", "qa")):
        session.add(Template(key=key, language="id", version=1, status=status,
                             channel="sms", body="Halo {name}, tiket {ticket}.",
                             created_by=people[author].id,
                             approved_by=people[approver].id if approver else None,
                             approved_at=now if approver else None))
    session.commit()

    # A live call on Sari's screen: the caller waits, her phone is rung, the whisper links it.
    caller_sid = "CA" + "4" * 32
    session.add(Contact(ticket_id=call.id, channel="voice", direction="inbound",
                        external_id=caller_sid, from_number=BUDI_PHONE, verified=True,
                        queue_state="waiting", queued_at=utcnow(), menu_path=["menu:0"],
                        ivr_state={"lang": "id", "customer_id": budi.id,
                                   "told": [{"topic": "bill",
                                             "summary": "Tagihan Rp 1.250.000"}]}))
    session.commit()
    claimed = agents.claim_agents(session)
    session.commit()
    session.expire_all()
    agents.agent_leg_placed(session, sari_agent.id, claimed[0][1], "CA" + "5" * 32)
    session.commit()
    # The agent pressed 1 on their phone: the leg is linked to the caller, the whisper starts.
    reply = signed_post(console.client(), "/twilio/voice/agent/accept",
                        {"CallSid": "CA" + "5" * 32, "Digits": "1"})
    assert reply.status_code == 200
    return {"people": people, "tickets": [call, mail, chat, desk, late, near, again],
            "templates": session.query(Template).all(), "user_ids": [locked.id, gone.id],
            "visits": [closed_visit.id, open_visit.id],
            "messages": [stranger_mail.id, chat_message.id]}


def pages_for(role: str, floor: dict) -> list[str]:
    tickets = [f"/console/tickets/{t.number}" for t in floor["tickets"]]
    every = ["/console/tickets", "/console/tickets?status=all", "/console/tickets/live",
             "/console/tickets/1000000", *tickets, "/console/templates",
             *[f"/console/templates/{t.id}" for t in floor["templates"]]]
    budi_id = floor["tickets"][0].customer_id
    mail_number = floor["tickets"][1].number  # an email from an unknown sender: no customer
    every += [f"/console/customers/{budi_id}", "/console/customers?q=zzzz",
              f"/console/customers?q={mail_number}"]
    work = ["/console/desk", *[f"/console/desk/visits/{v}" for v in floor["visits"]],
            "/console/inbox", *[f"/console/inbox/{m}" for m in floor["messages"]]]
    return {
        "agent": [*every, *work, "/console/pop"],
        "supervisor": [*every, *work, "/console/floor", "/console/floor/live",
                       "/console/audit", "/console/audit?action=view_ticket"],
        "qa": every,
        "admin": [*every, *work, "/console/floor", "/console/audit", "/console/users",
                  *[f"/console/users/{uid}" for uid in floor["user_ids"]],
                  *[f"/console/users/{p.id}" for p in floor["people"].values()]],
    }[role]


@pytest.mark.parametrize("language", ["id", "en"])
def test_no_page_shows_a_requirement_number_or_a_stored_code(console, session, floor,
                                                             language):
    shown: dict[str, list[str]] = {}
    pages = 0
    for role, person in floor["people"].items():
        session.query(User).filter(User.id == person.id).update({"language": language})
        session.commit()
        client = console.client(None)
        from tests.console.test_language import sign_in

        assert sign_in(client, person.username).status_code == 302
        for url in pages_for(role, floor):
            reply = client.get(url, headers={"HX-Request": "true"} if "pop" in url else {})
            assert reply.status_code in (200, 404), (role, url, reply.status_code)
            html = reply.get_data(as_text=True)
            assert not html.startswith("<!doctype") or f'<html lang="{language}">' in html
            found = codes_on(VisibleText.of(html), language)
            if found:
                shown[f"{role} {url}"] = found
            pages += 1
    for url in ("/console/login", "/", "/status"):
        html = console.client(language).get(url).get_data(as_text=True)
        if found := codes_on(VisibleText.of(html), language):
            shown[f"anonymous {url}"] = found
    assert pages > 60
    assert not shown, "\n".join(f"{page}: {codes}" for page, codes in shown.items())


def test_the_scan_sees_codes_where_they_are():
    """The scan itself: it finds what it looks for, and only in what people see."""
    page = ('<p>Status: pending_documents (P2.2a)</p><p title="walk_in">x</p>'
            '<code>status=unsettled channel=walk_in</code><p>Kategori: inquiry</p>')
    text = VisibleText.of(page)
    assert set(codes_on(text, "id")) == {"P2.2a", "pending_documents", "walk_in", "inquiry"}
    assert codes_on(VisibleText.of("<p>Menunggu dokumen, POJK 22/2023, Triwulan 4</p>"),
                    "id") == []


def test_the_floor_has_an_agent_on_a_live_call(console, session, floor):
    """The fixture does what it says: the agent's screen pops the caller, in words."""
    client = console.client(None)
    from tests.console.test_language import sign_in

    sign_in(client, "sari")
    pop = VisibleText.of(client.get("/console/pop", headers={"HX-Request": "true"})
                         .get_data(as_text=True))
    assert "Panggilan masuk" in pop and "Budi Santoso" in pop
    assert "Penelepon minta bicara dengan petugas" in pop  # the reason, in words
    assert "Minta bicara dengan petugas" in pop  # the category
    session.expire_all()
    assert session.get(Agent, floor["people"]["agent"].agent_id).current_call_sid
