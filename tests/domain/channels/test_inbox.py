"""The inbox (P3.1, P3.3): what waits for an answer, who wrote it, and linking an unmatched
email to a customer's ticket without letting a stranger's mail act."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.channels import email_inbound, inbox, social
from callcenter.channels.email_inbound import ParsedEmail
from callcenter.content import Content
from callcenter.models import AuditEntry, Contact, Document, Template, Ticket, utcnow
from callcenter.tickets import actions, documents, lifecycle
from tests.factories import BUDI_PHONE, make_customer

ACTOR = "user:sari"


@pytest.fixture
def budi(session):
    return make_customer(session)


def mail(session, settings, sender: str, *, subject: str = "Tagihan saya salah",
         message_id: str | None = None, attachment: bytes | None = None,
         spf: str = "pass", at=None) -> Contact:
    """An email as the inbound-parse hook takes it in (the domain's own function)."""
    parsed = ParsedEmail(
        sender=sender, subject=subject, text="Mohon dicek.", html=None,
        message_id=message_id or f"<{sender}-{subject}-{utcnow().timestamp()}@mail.example>",
        in_reply_to=None, references=None, to=["cs@cankul.co.id"], auto_generated=False,
        attachments=[email_inbound.Attachment("ktp.jpg", "image/jpeg", attachment)]
        if attachment else [], spf=spf)
    taken = email_inbound.take_in(session, settings, parsed)
    if at is not None:
        taken.contact.started_at = at
    session.commit()
    return taken.contact


def message(session, settings, sender: str, body: str = "Halo", at=None) -> Contact:
    params = {"MessageSid": "SM" + utcnow().strftime("%H%M%S%f").ljust(32, "0"),
              "From": sender, "To": "+622150001234", "Body": body, "NumMedia": "0"}
    taken = social.take_in(session, settings, params)
    if at is not None:
        taken.contact.started_at = at
    session.commit()
    return taken.contact


def approved_email_template(session) -> Template:
    template = Template(key="jawaban.tagihan", language="id", version=1, status="approved",
                        channel="email", subject="Tiket {ticket}",
                        body="Halo {name}, tagihan Anda sudah kami periksa.")
    session.add(template)
    session.commit()
    return template


def test_the_inbox_holds_unanswered_messages_oldest_first(session, settings, budi):
    """P3.1: every customer message nobody answered, oldest first; a resolved ticket's, an
    answered one's and a status question answered automatically are not in it."""
    now = utcnow()
    first = mail(session, settings, "budi@example.com", at=now - timedelta(hours=5))
    stranger = mail(session, settings, "orang@example.net", subject="Siapa saya",
                    at=now - timedelta(hours=3))
    sms = message(session, settings, "+6281399999999", at=now - timedelta(hours=4))
    waiting = [c.id for c in inbox.waiting(session).items]
    assert waiting == [first.id, sms.id, stranger.id]

    # An agent answers Budi with an approved template: his mail no longer waits.
    template = approved_email_template(session)
    actions.send_reply(session, settings, Content.load(), first.ticket, actor=ACTOR,
                       channel="email", template=template)
    session.commit()
    # The unknown number's ticket is resolved: its message no longer waits either.
    lifecycle.resolve(session, sms.ticket, "Sudah dijelaskan.")
    session.commit()
    assert [c.id for c in inbox.waiting(session).items] == [stranger.id]
    # Budi writes again after the answer: that new mail waits.
    again = mail(session, settings, "budi@example.com", subject="Re: tagihan")
    assert [c.id for c in inbox.waiting(session).items] == [stranger.id, again.id]


def test_the_acknowledgement_sent_by_the_service_is_no_answer(session, settings, budi):
    from callcenter.channels import email_outbound

    first = mail(session, settings, "budi@example.com")
    email_outbound.queue_acknowledgement(session, settings, first.ticket, first)
    session.commit()
    assert [c.id for c in inbox.waiting(session).items] == [first.id]


def test_pages_follow_each_other_without_gaps(session, settings, budi):
    now = utcnow()
    sent = [message(session, settings, f"+62813999900{i:02d}", at=now - timedelta(minutes=50 - i))
            for i in range(7)]
    first = inbox.waiting(session, limit=3)
    second = inbox.waiting(session, after=first.next_after, limit=3)
    third = inbox.waiting(session, after=second.next_after, limit=3)
    assert [c.id for c in first.items + second.items + third.items] == [c.id for c in sent]
    assert third.next_after is None


def test_the_sender_is_said_in_words_and_strangers_are_flagged(session, settings, budi):
    ours = mail(session, settings, "budi@example.com")
    assert inbox.sender_check(ours) == inbox.SenderCheck(
        True, "Verified: from the customer's registered address.")
    unknown = mail(session, settings, "orang@example.net", subject="Halo")
    check = inbox.sender_check(unknown)
    assert not check.verified and check.words.startswith("Unknown sender")
    forged = mail(session, settings, "budi@example.com", subject="Palsu", spf="fail")
    check = inbox.sender_check(forged)
    assert not check.verified and "SPF check: fail" in check.words
    sms = message(session, settings, BUDI_PHONE)
    assert inbox.sender_check(sms).verified
    stranger_sms = message(session, settings, "+6281399999999")
    assert not inbox.sender_check(stranger_sms).verified
    assert inbox.mask_address("budi.santoso@example.com") == "b***@example.com"


def _waiting_for_ktp(session, settings, budi) -> Ticket:
    ticket = lifecycle.open_ticket(session, channel="walk_in", customer_id=budi.id,
                                   settings=settings)
    documents.require_documents(session, ticket, ["KTP"])
    session.commit()
    return ticket


def test_a_linked_mail_stays_unverified_and_changes_nothing(session, settings, budi):
    """A stranger's address on the customer's ticket: kept, flagged, and it does not tick off
    the document the ticket waits for, nor move the ticket."""
    desk = _waiting_for_ktp(session, settings, budi)
    unmatched = mail(session, settings, "budi.kantor@example.net", attachment=b"\xff\xd8 ktp")
    left = unmatched.ticket
    linked = inbox.link_email(session, settings, unmatched, desk, actor=ACTOR)
    session.commit()
    session.expire_all()
    contact = session.get(Contact, unmatched.id)
    assert contact.ticket_id == desk.id and not contact.sender_verified
    assert email_inbound.unverified_reason(contact) == email_inbound.NOT_THE_CUSTOMER
    ticket = session.get(Ticket, desk.id)
    assert ticket.status == "pending_documents"
    assert documents.missing_names(ticket) == ["KTP"]
    document = session.scalars(select(Document).where(Document.contact_id == contact.id)).one()
    assert document.ticket_id == desk.id  # the attachment moved with the mail
    # The unmatched ticket had nothing else: settled as moved, nobody told.
    assert linked.left_settled and session.get(Ticket, left.id).status == "resolved"
    assert f"{desk.number}" in session.get(Ticket, left.id).summary
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "link_email")).all()
    assert {r.subject for r in rows} == {f"ticket:{desk.number}", f"ticket:{left.number}"}
    assert not session.scalars(select(AuditEntry).where(
        AuditEntry.action == "confirm_sender")).all()


def test_a_linked_mail_the_agent_confirmed_acts_as_the_customers(session, settings, budi):
    """Confirmed with the customer: the mail counts as theirs, its attachment is the KTP the
    ticket waited for, and the confirmation is audited."""
    desk = _waiting_for_ktp(session, settings, budi)
    unmatched = mail(session, settings, "budi.kantor@example.net", attachment=b"\xff\xd8 ktp")
    inbox.link_email(session, settings, unmatched, desk, actor=ACTOR, sender_confirmed=True)
    session.commit()
    session.expire_all()
    contact = session.get(Contact, unmatched.id)
    assert contact.sender_verified and inbox.sender_check(contact).words.startswith("Confirmed")
    ticket = session.get(Ticket, desk.id)
    assert ticket.status == "open" and documents.missing_names(ticket) == []
    confirmed = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "confirm_sender")).one()
    assert confirmed.actor == ACTOR and confirmed.subject == f"ticket:{desk.number}"


def test_an_unverified_mail_on_the_customers_ticket_can_be_confirmed(session, settings, budi):
    desk = _waiting_for_ktp(session, settings, budi)
    quoting = mail(session, settings, "lain@example.net", subject=f"[Tiket {desk.number}] KTP",
                   attachment=b"\xff\xd8 ktp")
    assert quoting.ticket_id == desk.id and not quoting.sender_verified
    inbox.confirm_sender(session, settings, quoting, actor=ACTOR)
    session.commit()
    session.expire_all()
    assert documents.missing_names(session.get(Ticket, desk.id)) == []
    with pytest.raises(actions.ActionRefused, match="already taken as the customer's"):
        inbox.confirm_sender(session, settings, session.get(Contact, quoting.id), actor=ACTOR)


def test_linking_refuses_what_it_cannot_do(session, settings, budi):
    desk = _waiting_for_ktp(session, settings, budi)
    ours = mail(session, settings, "budi@example.com")
    unmatched = mail(session, settings, "orang@example.net", subject="Halo")
    other = mail(session, settings, "lain@example.net", subject="Lain")
    sms = message(session, settings, BUDI_PHONE)
    cases = [(ours, desk, "already on a customer's ticket"),
             (unmatched, None, "No ticket has that number"),
             (unmatched, unmatched.ticket, "already on that ticket"),
             (unmatched, other.ticket, "has no customer"),
             (sms, desk, "Only an email we received")]
    for contact, target, words in cases:
        with pytest.raises(actions.ActionRefused, match=words):
            inbox.link_email(session, settings, contact, target, actor=ACTOR)
        session.rollback()
    assert session.get(Contact, unmatched.id).ticket_id == unmatched.ticket_id
