"""/api/templates (P3.3): people with roles, JSON errors, every change audited."""

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
    refused = client.post(f"/api/templates/{draft['id']}/approve", auth=AGENT)
    assert refused.status_code == 403 and refused.get_json()["error"] == "Forbidden"
    approved = client.post(f"/api/templates/{draft['id']}/approve", auth=QA)
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "approved"
    assert approved.get_json()["approved_by"] == "qori"
    actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["create_template", "approve_template"]


def test_editing_an_approved_template_answers_201_with_a_new_draft(client):
    template_id = _create(client).get_json()["id"]
    client.post(f"/api/templates/{template_id}/approve", auth=QA)
    edited = client.patch(f"/api/templates/{template_id}", json={"body": "Yth. {name}"},
                          auth=AGENT)
    assert edited.status_code == 201
    assert edited.get_json()["version"] == 2 and edited.get_json()["status"] == "draft"
    in_place = client.patch(f"/api/templates/{edited.get_json()['id']}",
                            json={"body": "Yth. Bapak/Ibu {name}"}, auth=AGENT)
    assert in_place.status_code == 200 and in_place.get_json()["version"] == 2
    listed = client.get("/api/templates?key=bill_info", auth=AGENT).get_json()["templates"]
    assert [(t["version"], t["status"]) for t in listed] == [(2, "draft"), (1, "approved")]
    client.post(f"/api/templates/{edited.get_json()['id']}/approve", auth=QA)
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
    client.post(f"/api/templates/{template_id}/approve", auth=QA)
    again = client.post(f"/api/templates/{template_id}/approve", auth=QA)
    assert again.status_code == 409 and "not a draft" in again.get_json()["message"]
