"""Finding a customer (issue 13 item 4; CONTRACT "Customer search"): every kind of query an
agent types, the ranking, the limit of 50, and the refusals, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from callcenter.models import Callback, Contact, RequiredDocument, utcnow
from callcenter.people import customer_file, customer_search
from callcenter.people.customer_search import BadQuery, MatchKind, search
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer, make_ticket


@pytest.fixture
def people(session):
    budi = make_customer(session)
    others = {
        "siti": make_customer(session, order_id="20261002", name="Siti Budiarti",
                              phone="+6281298765432", email="siti@example.com"),
        "ahmad": make_customer(session, order_id="20261003", name="Ahmad Subudi",
                               phone="+6285711112222", email="Ahmad.S@Example.com"),
        "rina": make_customer(session, order_id="ORD-77A", name="Rina Wati",
                              phone="+6281333334444", email=None),
    }
    session.commit()
    return {"budi": budi, **others}


def names(result: customer_search.SearchResult) -> list[str]:
    return [m.customer.name for m in result.matches]


@pytest.mark.parametrize("typed", ["0812-3456-7890", "+62 812 3456 7890", "6281234567890",
                                   "081234567890", "(0812) 3456 7890", " +6281234567890 "])
def test_a_phone_number_in_any_form_finds_the_customer(session, people, typed):
    found = search(session, typed)
    assert names(found) == ["Budi Santoso"]
    assert found.matches[0].kind == MatchKind.PHONE


def test_an_order_id_finds_the_customer_digits_or_letters(session, people):
    assert names(search(session, BUDI_ORDER)) == ["Budi Santoso"]
    assert search(session, BUDI_ORDER).matches[0].kind == MatchKind.ORDER_ID
    assert names(search(session, "ORD-77A")) == ["Rina Wati"]


def test_a_ticket_number_finds_its_customer_and_a_mistyped_one_is_not_looked_up(session,
                                                                                people):
    ticket = make_ticket(session, channel="whatsapp", customer=people["siti"])
    session.commit()
    found = search(session, ticket.number)
    assert names(found) == ["Siti Budiarti"]
    assert found.matches[0].kind == MatchKind.TICKET and found.ticket_number == ticket.number
    wrong = ticket.number[:-1] + str((int(ticket.number[-1]) + 1) % 10)  # check digit fails
    assert search(session, wrong).matches == [] and "ticket" not in search(session,
                                                                           wrong).read_as


def test_a_ticket_without_a_customer_is_still_named(session, people):
    stranger = make_ticket(session, channel="email")
    session.commit()
    found = search(session, stranger.number)
    assert found.matches == [] and found.ticket_number == stranger.number


def test_an_email_address_finds_the_customer_whatever_its_case(session, people):
    assert names(search(session, "AHMAD.s@example.COM")) == ["Ahmad Subudi"]
    assert search(session, "ahmad.s@example.com").matches[0].kind == MatchKind.EMAIL
    assert search(session, "nobody@example.com").matches == []


def test_part_of_a_name_ranks_the_start_first_then_a_later_word_then_inside(session, people):
    found = search(session, "BUDI")
    assert names(found) == ["Budi Santoso", "Siti Budiarti", "Ahmad Subudi"]
    assert [m.kind for m in found.matches] == [MatchKind.NAME_START, MatchKind.NAME_WORD,
                                               MatchKind.NAME_PART]
    assert names(search(session, "budi san")) == ["Budi Santoso"]


def test_an_exact_match_comes_before_names(session, people):
    make_customer(session, order_id="Santos", name="Yanti", phone="+6281377778888")
    assert names(search(session, "Santos")) == ["Yanti", "Budi Santoso"]
    assert names(search(session, "santos")) == ["Budi Santoso"]  # Order IDs match exactly


def test_wildcards_typed_are_searched_as_letters(session, people):
    assert search(session, "%%%").matches == []
    assert search(session, "a_b").matches == []


def test_at_most_fifty_customers_in_name_order(session):
    for n in range(60):
        make_customer(session, order_id=f"9{n:05d}", name=f"Dewi {n:02d}",
                      phone=f"+62812000{n:05d}", email=None)
    found = search(session, "dewi")
    assert len(found.matches) == customer_search.LIMIT == 50
    assert names(found)[:2] == ["Dewi 00", "Dewi 01"] and names(found)[-1] == "Dewi 49"


def test_each_customer_comes_with_every_ticket_newest_first(session, people):
    now = utcnow()
    old = make_ticket(session, channel="voice", customer=people["budi"])
    old.opened_at = now - timedelta(days=3)
    new = make_ticket(session, channel="email", customer=people["budi"], status="resolved")
    new.opened_at = now
    make_ticket(session, channel="sms", customer=people["siti"])
    session.commit()
    match = search(session, BUDI_PHONE).matches[0]
    assert [(t.number, t.channel) for t in match.tickets] == [(new.number, "email"),
                                                               (old.number, "voice")]


@pytest.mark.parametrize("typed, words", [
    ("", "Type a phone number"), ("   ", "Type a phone number"), (None, "Type a phone number"),
    ("ab", "at least 3"), ("x" * 101, "at most 100"), ("budi\x00", "letters, digits"),
])
def test_nothing_to_search_with_is_refused_with_what_to_type(session, typed, words):
    with pytest.raises(BadQuery) as refused:
        search(session, typed)
    assert words in str(refused.value)


def test_the_customer_file_gathers_every_channel_callbacks_and_documents(session, people,
                                                                         settings):
    budi, now = people["budi"], utcnow()
    call = make_ticket(session, channel="voice", customer=budi)
    chat = make_ticket(session, channel="whatsapp", customer=budi, status="pending_documents")
    make_ticket(session, channel="email", customer=people["siti"])  # not Budi's
    session.add_all([
        Contact(ticket_id=call.id, channel="voice", direction="inbound", status="completed",
                started_at=now - timedelta(hours=2), duration_s=95),
        Contact(ticket_id=call.id, channel="voice", direction="outbound", kind="agent_leg",
                status="completed", started_at=now - timedelta(hours=2)),
        Contact(ticket_id=chat.id, channel="whatsapp", direction="inbound", status="received",
                body="Bukti transfer menyusul", started_at=now - timedelta(hours=1)),
        Callback(ticket_id=call.id, reason="more_explanation", status="scheduled",
                 phone=BUDI_PHONE, due_at=now + timedelta(hours=1)),
        Callback(ticket_id=call.id, reason="dropped_call", status="failed",
                 phone=BUDI_PHONE, due_at=now - timedelta(hours=1)),
        RequiredDocument(ticket_id=chat.id, name="Bukti transfer"),
    ])
    session.commit()
    found = customer_file.load(session, budi.id)
    assert found is not None
    assert {t.channel for t in found.tickets} == {"voice", "whatsapp"}
    assert [c.channel for c in found.contacts] == ["whatsapp", "voice"]  # no agent leg
    assert [c.reason for c in found.callbacks] == ["more_explanation"]  # pending ones only
    assert [(d.name, d.received_at) for d in found.documents] == [("Bukti transfer", None)]
    assert customer_file.load(session, 10**6) is None


def test_order_ids_on_a_list_show_only_their_last_digits():
    assert customer_search.mask_order_id("20261001") == "••••1001"
    assert customer_search.mask_order_id("ORD-77A") == "•••-77A"
    assert customer_search.mask_order_id("A12") == "••2"  # short: two stay hidden
    assert customer_search.mask_order_id(None) == "-"
