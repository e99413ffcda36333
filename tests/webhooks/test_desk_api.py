"""The walk-in desk API (P4) and supporting documents (P4.3), through the Flask app."""

from __future__ import annotations

import base64
import io

import pytest
import requests
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from callcenter.models import AuditEntry, Contact, OutboundMessage, Ticket
from callcenter.people.users import create_user
from callcenter.tickets import documents, lifecycle
from tests.conftest import API_TOKEN
from tests.factories import BUDI_ORDER, BUDI_PHONE, make_customer
from tests.support.waiting import eventually
from webhooks.app import create_app

PASSWORD = "long enough password"
VISIT = {"name": "Budi Santoso", "phone": BUDI_PHONE, "order_id": BUDI_ORDER,
         "problem": "My payment is not credited", "language": "en"}


def basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


SARI = basic("sari")


@pytest.fixture
def client(settings, session):
    return create_app(settings).test_client()


@pytest.fixture
def budi(session):
    customer = make_customer(session)
    for name, role in (("sari", "agent"), ("lead", "supervisor"), ("quinn", "qa")):
        create_user(session, name, PASSWORD, role)
    session.commit()
    return customer


def visit(client, **changes):
    return client.post("/api/desk/visits", json={**VISIT, **changes}, headers=SARI)


def test_desk_needs_an_agent_or_supervisor(client, budi):
    assert client.post("/api/desk/visits", json=VISIT).status_code == 401
    wrong = {"Authorization": "Basic " + base64.b64encode(b"sari:wrong password").decode()}
    assert client.post("/api/desk/visits", json=VISIT, headers=wrong).status_code == 401
    response = client.post("/api/desk/visits", json=VISIT, headers=basic("quinn"))
    assert response.status_code == 403 and response.is_json
    assert client.post("/api/desk/visits", json=VISIT, headers=basic("lead")).status_code == 201


def test_a_verified_visit_gets_a_ticket_and_the_data_for_a_direct_answer(client, session,
                                                                          budi):
    """P4.1 verify, P4.2 answer from the customer's data, P4.4 record, P4.5 ticket number."""
    response = visit(client)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "open" and body["continued"] is False
    assert body["customer"]["name"] == "Budi Santoso"
    assert body["customer"]["amount_due_text"] == "Rp 1,250,000"
    assert body["customer"]["va_bank"] == "BCA" and body["customer"]["va_number"] == "8808123456"
    assert body["customer"]["due_date"] == "2026-12-05"
    assert set(body["answers"]) == {"how_to_pay", "bill", "status"}
    assert body["ticket"] in body["slip"] and body["due_at"].endswith("+07:00")
    assert body["sms"]["queued"] is True
    ticket = lifecycle.find_by_number(session, body["ticket"])
    assert ticket.channel == "walk_in"
    contact = session.get(Contact, body["visit_id"])
    assert contact.ticket_id == ticket.id and contact.body == VISIT["problem"]
    sms = session.get(OutboundMessage, body["sms"]["id"])
    assert sms.to_number == BUDI_PHONE and body["ticket"] in sms.body
    audits = session.scalars(select(AuditEntry).where(AuditEntry.actor == "user:sari")).all()
    assert {"desk_visit", "view_customer"} <= {a.action for a in audits}


@pytest.mark.parametrize("field,value", [
    ("name", "Budi Santosa"), ("phone", "+6281299999999"), ("phone", "12"),
    ("order_id", "20269999")])
def test_an_unverified_visit_says_nothing_about_which_part_failed(client, session, budi,
                                                                   field, value):
    """P4.1: 422 with the same message for any mismatch; no customer data, nothing recorded."""
    response = visit(client, **{field: value})
    assert response.status_code == 422
    body = response.get_json()
    assert set(body) == {"error", "message", "escalate"}
    assert body["message"] == visit(client, name="Nobody").get_json()["message"]
    assert "Budi" not in response.text and "BCA" not in response.text
    assert session.scalars(select(Ticket)).first() is None
    assert session.scalars(select(OutboundMessage)).first() is None


def test_three_failed_verifications_tell_the_agent_to_escalate(client, budi):
    """P4.1: after three failures by one agent for one phone within 15 minutes: 429."""
    codes = [visit(client, order_id="20260000").status_code for _ in range(3)]
    assert codes == [422, 422, 429]
    refused = visit(client)
    assert refused.status_code == 429 and refused.get_json()["escalate"] is True
    assert client.post("/api/desk/visits", json=VISIT, headers=basic("lead")).status_code == 201


@pytest.mark.parametrize("payload", [
    None, [], {**VISIT, "name": ""}, {**VISIT, "phone": 6281234567890},
    {k: v for k, v in VISIT.items() if k != "order_id"}, {**VISIT, "problem": "  "},
    {**VISIT, "language": "fr"}, {**VISIT, "new_ticket": "yes"}])
def test_bad_visit_input_is_a_400(client, budi, payload):
    kwargs = {"json": payload} if payload is not None else {"data": "{not json"}
    response = client.post("/api/desk/visits", headers=SARI, **kwargs)
    assert response.status_code == 400 and response.is_json


def test_a_visit_continues_the_customers_open_ticket(client, session, budi):
    """X1: a repeat contact about the same problem lands on the same ticket."""
    earlier = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id)
    session.commit()
    response = visit(client)
    assert response.status_code == 200
    assert response.get_json()["ticket"] == earlier.number
    assert response.get_json()["continued"] is True
    fresh = visit(client, new_ticket=True)
    assert fresh.status_code == 201 and fresh.get_json()["ticket"] != earlier.number


def _upload(client, number, data, **form):
    # Encoded in memory: the test client would spool a large body to an unclosed temp file.
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(data), "ktp.jpg", content_type="image/jpeg"), **form})
    return client.post(f"/api/tickets/{number}/documents", headers=SARI, data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_documents_required_block_resolving_until_uploaded(client, session, budi):
    """P4.3: required documents make the ticket pending_documents; resolving is refused (409,
    listing what is missing) until each is received; then it resolves (audited)."""
    number = visit(client).get_json()["ticket"]
    response = client.post(f"/api/tickets/{number}/required-documents", headers=SARI,
                           json={"names": ["KTP", "bank statement"]})
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "pending_documents"
    assert [r["name"] for r in body["outstanding"]] == ["KTP", "bank statement"]
    assert "KTP, bank statement" in body["missing_text"] and "- KTP" in body["slip"]
    sms = session.get(OutboundMessage, body["sms"]["id"])
    assert "KTP, bank statement" in sms.body and sms.to_number == BUDI_PHONE

    refused = client.post(f"/api/tickets/{number}/resolve", headers=SARI,
                          json={"summary": "refund made"})
    assert refused.status_code == 409
    assert refused.get_json()["missing"] == ["KTP", "bank statement"]

    uploaded = _upload(client, number, b"\xff\xd8 ktp", fulfils="KTP")
    assert uploaded.status_code == 201
    assert uploaded.get_json()["fulfils"]["name"] == "KTP"
    assert uploaded.get_json()["document"]["source"] == "desk"
    statement_id = body["outstanding"][1]["id"]
    big = b"x" * (2 * 1024 * 1024)  # over the app's 1 MB default, under the 5 MB cap
    assert _upload(client, number, big, fulfils=str(statement_id)).status_code == 201

    listed = client.get(f"/api/tickets/{number}/required-documents", headers=SARI).get_json()
    assert listed["outstanding"] == [] and len(listed["received"]) == 2
    assert listed["status"] == "open"
    resolved = client.post(f"/api/tickets/{number}/resolve", headers=SARI,
                           json={"summary": "refund made"})
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "resolved"
    assert client.post(f"/api/tickets/{number}/resolve", headers=SARI,
                       json={"summary": "again"}).status_code == 409
    actions = {a.action for a in session.scalars(select(AuditEntry))}
    assert {"require_documents", "receive_document", "resolve_ticket",
            "view_documents"} <= actions


def test_an_email_attachment_fulfils_a_requirement_seen_at_the_desk(client, session, settings,
                                                                    budi):
    """P4.3: a document arriving by another channel (an email attachment) is received too."""
    number = visit(client).get_json()["ticket"]
    client.post(f"/api/tickets/{number}/required-documents", headers=SARI,
                json={"names": ["KTP"]})
    ticket = lifecycle.find_by_number(session, number)
    documents.receive_document(session, ticket, settings=settings, filename="ktp.pdf",
                               content_type="application/pdf", data=b"%PDF", source="email")
    session.commit()
    listed = client.get(f"/api/tickets/{number}/required-documents", headers=SARI).get_json()
    assert listed["status"] == "open" and listed["received"][0]["name"] == "KTP"


def test_upload_errors_are_clear(client, budi):
    """P4.3: documents are size-capped (413); other bad uploads are 400/404/409."""
    number = visit(client).get_json()["ticket"]
    client.post(f"/api/tickets/{number}/required-documents", headers=SARI,
                json={"names": ["KTP"]})
    too_big = _upload(client, number, b"x" * (documents.MAX_DOCUMENT_BYTES + 1))
    assert too_big.status_code == 413 and too_big.is_json
    way_too_big = _upload(client, number, b"x" * (documents.MAX_DOCUMENT_BYTES + 200_000))
    assert way_too_big.status_code == 413 and "at most" in way_too_big.get_json()["message"]
    assert _upload(client, number, b"").status_code == 400
    assert _upload(client, number, b"x", fulfils="passport").status_code == 400
    assert _upload(client, "A0000000", b"x").status_code == 404
    no_file = client.post(f"/api/tickets/{number}/documents", headers=SARI, data={},
                          content_type="multipart/form-data")
    assert no_file.status_code == 400
    assert _upload(client, number, b"x", fulfils="KTP").status_code == 201
    assert _upload(client, number, b"x", fulfils="KTP").status_code == 409


def test_document_endpoints_404_and_400(client, budi):
    assert client.get("/api/tickets/NOPE/required-documents", headers=SARI).status_code == 404
    assert client.post("/api/tickets/NOPE/resolve", headers=SARI,
                       json={"summary": "x"}).status_code == 404
    number = visit(client).get_json()["ticket"]
    for payload in ({"names": "KTP"}, {"names": []}, {"names": [""]}):
        response = client.post(f"/api/tickets/{number}/required-documents", headers=SARI,
                               json=payload)
        assert response.status_code == 400 and response.is_json
    assert client.post(f"/api/tickets/{number}/resolve", headers=SARI,
                       json={}).status_code == 400


def test_closing_lines_are_recorded_on_the_ticket(client, budi):
    """P4.6–P4.8: anything else?, the summary and the closing greeting are said and kept on
    the visit, readable in the ticket JSON."""
    opened = visit(client).get_json()
    url = f"/api/desk/visits/{opened['visit_id']}/close"
    more = client.post(url, headers=SARI, json={"anything_else": True})
    assert more.status_code == 200 and more.get_json()["open"] is True
    done = client.post(url, headers=SARI,
                       json={"anything_else": False, "summary": "your bill is Rp 1,250,000"})
    assert done.status_code == 200
    lines = done.get_json()["lines"]
    assert lines[0] == "Is there anything else we can help you with?"
    assert "your bill is Rp 1,250,000" in lines[1] and opened["ticket"] in lines[2]
    assert lines[3] == "Thank you for visiting Cankul. Have a nice day."
    assert client.post(url, headers=SARI, json={"anything_else": False,
                                                "summary": "x"}).status_code == 409
    body = client.get(f"/api/tickets/{opened['ticket']}",
                      headers={"Authorization": f"Bearer {API_TOKEN}"}).get_json()
    walk_in = next(c for c in body["contacts"] if c["channel"] == "walk_in")
    assert walk_in["status"] == "completed"
    assert [a["said"] for a in walk_in["answers"]][-3:] == lines[1:]


def test_closing_needs_a_summary_and_a_known_visit(client, budi):
    opened = visit(client).get_json()
    url = f"/api/desk/visits/{opened['visit_id']}/close"
    assert client.post(url, headers=SARI, json={"anything_else": False}).status_code == 400
    assert client.post(url, headers=SARI, json={"summary": "x"}).status_code == 400
    assert client.post("/api/desk/visits/999999/close", headers=SARI,
                       json={"anything_else": False, "summary": "x"}).status_code == 404


def test_the_ticket_number_sms_goes_out_through_twilio(hotline, session, budi):
    """P4.5: the ticket number reaches the customer's registered phone by SMS (end to end)."""
    response = requests.post(hotline.live.url + "/api/desk/visits", json=VISIT, headers=SARI,
                             timeout=10)
    assert response.status_code == 201
    number = response.json()["ticket"]
    hotline.run_jobs()
    sent = eventually(lambda: [m for m in hotline.sim.messages if m["to"] == BUDI_PHONE])
    assert number in sent[0]["body"]
