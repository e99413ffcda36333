"""/api/templates (P3.3): people with roles, JSON errors, every change audited; a review
names the text it read (its digest)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.models import AuditEntry
from callcenter.people import users
from webhooks.app import create_app

AGENT = ("sari", "long enough password")
QA = ("qori", "long enough password")


@pytest.fixture
def client(settings, session):
    users.create_user(session, *AGENT, "agent")
    users.create_user(session, *QA, "qa")
    session.commit()
    return create_app(settings).test_client()


def _approve(client, template_id: int, auth=QA, **body):
    """QA approves what they read: the digest the template's GET showed them."""
    digest = client.get(f"/api/templates/{template_id}", auth=auth).get_json().get("digest")
    return client.post(f"/api/templates/{template_id}/approve", json={"digest": digest, **body},
                       auth=auth)


def _create(client, **body):
    payload = {"key": "bill_info", "language": "id", "body": "Halo {name}, tiket {ticket}."}
    payload.update(body)
    return client.post("/api/templates", json=payload, auth=AGENT)


def test_an_agent_drafts_and_qa_approves(client, session):
    created = _create(client, subject="Tagihan {ticket}")
    assert created.status_code == 201
    draft = created.get_json()
    assert draft["status"] == "draft" and draft["version"] == 1
    assert draft["created_by"] == "sari" and draft["placeholders"] == ["name", "ticket"]
    refused = _approve(client, draft["id"], auth=AGENT)
    assert refused.status_code == 403 and refused.get_json()["error"] == "Forbidden"
    approved = _approve(client, draft["id"])
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "approved"
    assert approved.get_json()["approved_by"] == "qori"
    actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["create_template", "approve_template"]


def test_editing_an_approved_template_answers_201_with_a_new_draft(client):
    template_id = _create(client).get_json()["id"]
    _approve(client, template_id)
    edited = client.patch(f"/api/templates/{template_id}", json={"body": "Yth. {name}"},
                          auth=AGENT)
    assert edited.status_code == 201
    assert edited.get_json()["version"] == 2 and edited.get_json()["status"] == "draft"
    in_place = client.patch(f"/api/templates/{edited.get_json()['id']}",
                            json={"body": "Yth. Bapak/Ibu {name}"}, auth=AGENT)
    assert in_place.status_code == 200 and in_place.get_json()["version"] == 2
    listed = client.get("/api/templates?key=bill_info", auth=AGENT).get_json()["templates"]
    assert [(t["version"], t["status"]) for t in listed] == [(2, "draft"), (1, "approved")]
    _approve(client, edited.get_json()["id"])
    listed = client.get("/api/templates?key=bill_info", auth=AGENT).get_json()["templates"]
    assert [(t["version"], t["status"]) for t in listed] == [(2, "approved"), (1, "retired")]


@pytest.mark.parametrize(("body", "code"), [
    ({"body": "Halo {nama}"}, 400),
    ({"language": "fr"}, 400),
    ({"key": "Bad Key!"}, 400),
    ({"body": ""}, 400),
])
def test_bad_drafts_get_400_with_the_reason(client, body, code):
    answer = _create(client, **body)
    assert answer.status_code == code
    assert answer.get_json()["message"]


def test_errors_are_json_401_404_409(client):
    assert client.get("/api/templates").status_code == 401
    assert client.get("/api/templates/999", auth=AGENT).status_code == 404
    template_id = _create(client).get_json()["id"]
    assert _create(client).status_code == 409  # an open draft exists already
    _approve(client, template_id)
    again = _approve(client, template_id)
    assert again.status_code == 409 and "not a draft" in again.get_json()["message"]


def test_an_approval_names_the_text_read_and_a_draft_edited_since_is_409(client, session):
    """Four eyes on the text QA read: sari's edit after QA fetched the draft is not approved
    unread; QA reads it again (a new digest) and approves that."""
    template_id = _create(client).get_json()["id"]
    read = client.get(f"/api/templates/{template_id}", auth=QA).get_json()
    assert len(read["digest"]) == 64
    client.patch(f"/api/templates/{template_id}", auth=AGENT,
                 json={"body": "Transfer ke rekening 123 sekarang, {name}."})
    stale = client.post(f"/api/templates/{template_id}/approve", auth=QA,
                        json={"digest": read["digest"]})
    assert stale.status_code == 409 and "read it again" in stale.get_json()["message"]
    again = client.get(f"/api/templates/{template_id}", auth=QA).get_json()
    assert again["status"] == "draft" and again["digest"] != read["digest"]
    assert session.scalars(select(AuditEntry).where(
        AuditEntry.action == "approve_template")).first() is None
    approved = client.post(f"/api/templates/{template_id}/approve", auth=QA,
                           json={"digest": again["digest"]})
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"


@pytest.mark.parametrize("body", [None, {}, {"digest": ""}, {"digest": 7}])
def test_an_approval_that_names_no_text_is_a_400(client, body):
    template_id = _create(client).get_json()["id"]
    answer = client.post(f"/api/templates/{template_id}/approve", auth=QA, json=body)
    assert answer.status_code == 400 and answer.is_json
    assert client.get(f"/api/templates/{template_id}", auth=QA).get_json()["status"] == "draft"


def test_qa_rejects_with_a_reason_the_author_sees_and_answers_with_an_edit(client, session):
    template_id = _create(client).get_json()["id"]
    digest = client.get(f"/api/templates/{template_id}", auth=QA).get_json()["digest"]
    no_reason = client.post(f"/api/templates/{template_id}/reject", auth=QA,
                            json={"digest": digest, "reason": " "})
    assert no_reason.status_code == 400 and "reason" in no_reason.get_json()["message"]
    own = client.post(f"/api/templates/{template_id}/reject", auth=AGENT,
                      json={"digest": digest, "reason": "x"})
    assert own.status_code == 403
    rejected = client.post(f"/api/templates/{template_id}/reject", auth=QA,
                           json={"digest": digest, "reason": "Sebutkan jatuh tempo."})
    assert rejected.status_code == 200
    seen = client.get(f"/api/templates/{template_id}", auth=AGENT).get_json()
    assert seen["status"] == "rejected"
    assert seen["rejection"]["by"] == "qori"
    assert seen["rejection"]["reason"] == "Sebutkan jatuh tempo."
    assert seen["rejection"]["at"]
    assert _approve(client, template_id).status_code == 409  # edited first
    assert _create(client).status_code == 409  # still the one open draft of bill_info
    edited = client.patch(f"/api/templates/{template_id}", auth=AGENT,
                          json={"body": "Halo {name}, jatuh tempo {due_date}."})
    assert edited.status_code == 200
    assert edited.get_json()["status"] == "draft" and edited.get_json()["rejection"] is None
    assert _approve(client, template_id).status_code == 200
    trail = [(a.action, a.actor) for a in session.scalars(
        select(AuditEntry).order_by(AuditEntry.id))]
    assert ("reject_template", "user:qori") in trail
