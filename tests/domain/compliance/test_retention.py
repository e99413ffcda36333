"""UU PDP: personal data past retention is anonymised; the report's counts survive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from callcenter.compliance import retention
from callcenter.models import Contact, Customer, Document, Ticket
from callcenter.tickets import lifecycle
from manage.cli import main
from tests.factories import make_customer

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def _old_settled_ticket(session, settings, **customer):
    person = make_customer(session, **customer)
    person.updated_at = NOW - timedelta(days=settings.retention_days + 30)
    opened = NOW - timedelta(days=settings.retention_days + 40)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=person.id, now=opened)
    lifecycle.resolve(session, ticket, "tagihan 1.250.000 rupiah", now=opened + timedelta(days=2))
    session.add(Contact(ticket_id=ticket.id, channel="sms", direction="inbound",
                        external_id="SM" + "4" * 32, sender=person.phone,
                        from_number=person.phone, body="KTP saya 3171234567890001"))
    session.add(Document(ticket_id=ticket.id, filename="ktp.jpg", content_type="image/jpeg",
                         size=3, sha256="0" * 64, data=b"abc", source="desk"))
    session.commit()
    return person, ticket


def test_old_settled_tickets_and_their_customer_are_anonymised(session, settings):
    person, ticket = _old_settled_ticket(session, settings)
    recent = make_customer(session, order_id="999", phone="+6281311112222", name="Siti")
    lifecycle.open_ticket(session, channel="email", customer_id=recent.id, now=NOW)
    session.commit()
    result = retention.purge(session, settings, now=NOW)
    session.commit()
    assert (result.tickets, result.customers) == (1, 1)
    session.expire_all()
    gone = session.get(Customer, person.id)
    assert gone.name == retention.PURGED and gone.phone == "" and gone.email is None
    assert gone.order_id.startswith("purged-") and gone.product == "Cankul Tunai"
    contact = session.scalars(select(Contact).where(Contact.ticket_id == ticket.id)).one()
    assert contact.body is None and contact.sender is None and contact.from_number is None
    assert session.scalars(select(Document)).one().data == b""
    kept = session.get(Ticket, ticket.id)
    assert (kept.status, kept.channel, kept.category) == ("resolved", "voice", "inquiry")
    assert kept.resolved_at is not None  # the report can still count it
    assert session.get(Customer, recent.id).name == "Siti"
    assert session.scalar(select(func.count()).select_from(Ticket)) == 2


def test_a_customer_with_a_recent_ticket_keeps_their_data(session, settings):
    person, _ticket = _old_settled_ticket(session, settings)
    lifecycle.open_ticket(session, channel="voice", customer_id=person.id, now=NOW)
    session.commit()
    result = retention.purge(session, settings, now=NOW)
    assert (result.tickets, result.customers) == (1, 0)
    assert session.get(Customer, person.id).name == "Budi Santoso"


def test_purge_is_idempotent_and_has_a_command(env, session, settings):
    _old_settled_ticket(session, settings)
    retention.purge(session, settings, now=NOW)
    session.commit()
    again = retention.purge(session, settings, now=NOW)
    assert (again.tickets, again.customers) == (0, 0)
    output = CliRunner().invoke(main, ["purge"], env=env).output
    assert "anonymised 0 tickets and 0 customers" in output
