"""Reply templates approved by QA (P3.3): drafting, four-eyes approval, versions, rendering."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.channels import templates
from callcenter.channels.templates import TemplateError
from callcenter.models import Template
from callcenter.people import users
from callcenter.tickets import lifecycle
from tests.factories import make_customer


@pytest.fixture
def people(session):
    made = {role: users.create_user(session, f"{role}1", "long enough password", role)
            for role in ("agent", "supervisor", "qa", "admin")}
    made["qa2"] = users.create_user(session, "qa2", "long enough password", "qa")
    session.commit()
    return made


def _draft(session, author, body="Halo {name}, tiket {ticket}.", **kw):
    return templates.create_draft(session, author, key=kw.pop("key", "greeting"),
                                  language=kw.pop("language", "id"), body=body, **kw)


def test_unknown_or_unsafe_placeholders_are_refused_at_draft_time(session, people):
    for body in ("Halo {nama}", "Halo {0}", "Halo {name.__class__}", "Halo {name!r}",
                 "Halo {amount:>10}", "Halo {", "Halo {}"):
        with pytest.raises(TemplateError):
            _draft(session, people["agent"], body=body)
    assert session.scalars(select(Template)).all() == []
    assert _draft(session, people["agent"], body="Pakai {{kurung}} {va}").status == "draft"


def test_an_agent_cannot_approve_qa_can(session, people):
    draft = _draft(session, people["agent"])
    for role in ("agent", "supervisor"):
        with pytest.raises(TemplateError) as refused:
            templates.approve(session, people[role], draft, read=templates.digest(draft))
        assert refused.value.status == 403
    templates.approve(session, people["qa"], draft, read=templates.digest(draft))
    assert draft.status == "approved" and draft.approved_by == people["qa"].id
    assert draft.approved_at is not None


def test_nobody_approves_their_own_text_not_even_qa_or_admin(session, people):
    for role in ("qa", "admin"):
        draft = _draft(session, people[role], key=f"own-{role}")
        with pytest.raises(TemplateError) as refused:
            templates.approve(session, people[role], draft, read=templates.digest(draft))
        assert refused.value.status == 403
    draft = _draft(session, people["qa"], key="own-2")
    templates.approve(session, people["qa2"], draft, read=templates.digest(draft))
    assert draft.status == "approved"


def test_whoever_last_edits_a_draft_counts_as_its_author(session, people):
    draft = _draft(session, people["agent"])
    templates.edit(session, people["qa"], draft, body="Halo {name}!")
    with pytest.raises(TemplateError):
        # QA wrote this text: four eyes
        templates.approve(session, people["qa"], draft, read=templates.digest(draft))
    templates.approve(session, people["qa2"], draft, read=templates.digest(draft))
    assert draft.status == "approved"


def test_editing_an_approved_template_makes_a_new_draft_and_keeps_the_old_one_in_use(
        session, people):
    v1 = _draft(session, people["agent"])
    templates.approve(session, people["qa"], v1, read=templates.digest(v1))
    v2, created = templates.edit(session, people["agent"], v1, body="Yth. {name}, {ticket}.")
    assert created and v2.id != v1.id and (v2.version, v2.status) == (2, "draft")
    assert v1.status == "approved" and v1.body == "Halo {name}, tiket {ticket}."
    assert templates.find_approved(session, "greeting", "id").id == v1.id
    with pytest.raises(TemplateError) as second:
        templates.edit(session, people["agent"], v1, body="Lagi {name}")
    assert second.value.status == 409  # one open draft at a time: edit v2
    templates.approve(session, people["qa"], v2, read=templates.digest(v2))
    assert (v1.status, v2.status) == ("retired", "approved")
    assert templates.find_approved(session, "greeting", "id").id == v2.id
    with pytest.raises(TemplateError):
        templates.edit(session, people["agent"], v1, body="x")  # retired: closed
    with pytest.raises(TemplateError):
        # approved twice: not a draft
        templates.approve(session, people["qa"], v2, read=templates.digest(v2))


def test_languages_are_separate_templates(session, people):
    id_ = _draft(session, people["agent"], language="id")
    en = _draft(session, people["agent"], language="en", body="Hello {name}")
    assert id_.version == en.version == 1
    with pytest.raises(TemplateError):
        _draft(session, people["agent"], language="fr")


def test_rendering_uses_the_customers_data_in_the_templates_language(session, people):
    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="email", customer_id=customer.id)
    body = "{name}: Rp {amount}, {due_date}, {bank} {va}, {email}, {ticket}"
    id_tpl = _draft(session, people["agent"], body=body, subject="Tiket {ticket}")
    en_tpl = _draft(session, people["agent"], body=body, language="en")
    subject, text = templates.render(id_tpl, ticket=ticket, customer=customer)
    assert subject == f"Tiket {ticket.number}"
    assert text == (f"Budi Santoso: Rp 1.250.000, 5 Desember 2026, BCA 8808123456, "
                    f"budi@example.com, {ticket.number}")
    _, english = templates.render(en_tpl, ticket=ticket, customer=customer)
    assert "Rp 1,250,000, 5 December 2026" in english


def test_rendering_refuses_when_the_customers_data_is_missing(session, people):
    customer = make_customer(session, va_number=None)
    ticket = lifecycle.open_ticket(session, channel="email", customer_id=customer.id)
    template = _draft(session, people["agent"], body="VA {va}")
    with pytest.raises(TemplateError) as missing:
        templates.render(template, ticket=ticket, customer=customer)
    assert missing.value.status == 409 and "va" in str(missing.value)
    unmatched = lifecycle.open_ticket(session, channel="email", customer_id=None)
    with pytest.raises(TemplateError):
        templates.render(_draft(session, people["agent"], body="Halo {name}", key="n"),
                         ticket=unmatched, customer=None, email="x@y.test")
