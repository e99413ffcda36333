"""Reply templates in the console (P3.3): drafted by anyone, approved by QA, never by the
author; editing an approved template makes a new draft version. QA approves or rejects on the
template's page, under the full text, and approves exactly the text they read. Every change
is audited."""

from __future__ import annotations

import re

from sqlalchemy import select

from callcenter.channels import templates
from callcenter.models import AuditEntry, Template, User
from tests.console.conftest import csrf_from, post_form

PAGE = "/console/templates"
APPROVE = ">Approve this text</button>"
DIGEST = re.compile(r'name="digest" value="([0-9a-f]{64})"')
DRAFT = {"key": "payment_reminder", "language": "id", "channel": "email",
         "subject": "Tiket {ticket}", "body": "Halo {name}, tagihan Anda {amount}."}


def _rows(html: str) -> list[str]:
    """The version rows of the listing, as text (one per template version)."""
    rows = re.findall(r"<tr>\s*<td[^>]*>(.*?)</tr>", html, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def _draft(client, **overrides: str):
    return post_form(client, PAGE, PAGE, {**DRAFT, **overrides})


def _template(session, version: int = 1) -> Template:
    session.expire_all()
    return session.scalars(select(Template).where(Template.version == version)).one()


def _review_page(client, template_id: int) -> str:
    return client.get(f"{PAGE}/{template_id}").get_data(as_text=True)


def _digest(page: str) -> str:
    found = DIGEST.search(page)
    assert found, "the page has no review form"
    return found.group(1)


def _review(client, template_id: int, verb: str = "approve", *, read: str | None = None,
            **fields: str):
    """Press a review button as QA does: with the digest of the text the template's page
    shows, or ``read``: the digest of a page opened earlier (or someone else's)."""
    html = _review_page(client, template_id)
    digest = read if read is not None else (_digest(html) if DIGEST.search(html) else "")
    return client.post(f"{PAGE}/{template_id}/{verb}", data={
        "csrf_token": csrf_from(html), "digest": digest, **fields}, follow_redirects=True)


def test_the_page_has_the_draft_form_and_the_placeholder_help(console):
    html = console.signed_in("sari", "agent").get(PAGE).get_data(as_text=True)
    for label, field in (("Key", "tpl-key"), ("Language", "tpl-language"),
                         ("Channel", "tpl-channel"), ("Subject", "tpl-subject"),
                         ("Body", "tpl-body")):
        assert f'<label for="{field}">{label}</label>' in html
    assert ">Save draft</button>" in html
    for value in ("id", "en", "email", "sms", "whatsapp"):
        assert f'<option value="{value}"' in html
    for placeholder in ("{name}", "{ticket}", "{amount}", "{due_date}", "{va}", "{bank}",
                        "{email}"):
        assert f"<code>{placeholder}</code>" in html
    assert "style=" not in html and "<style" not in html


def test_an_agent_drafts_a_template_it_is_listed_by_key_and_audited(console, session):
    client = console.signed_in("sari", "agent")
    reply = _draft(client)
    assert reply.status_code == 302 and reply.headers["Location"] == PAGE
    html = client.get(PAGE).get_data(as_text=True)
    assert "Draft payment_reminder (Indonesian) v1 saved" in html
    assert "<h2" in html and ">payment_reminder</h2>" in html
    assert _rows(html) == ["Indonesian v1 Draft Email sari — Edit Awaiting approval by QA "
                           "(not you: you wrote it)"]
    assert "Halo {name}, tagihan Anda {amount}." in html
    assert "Read and review" not in html
    template = _template(session)
    assert template.status == "draft" and template.subject == "Tiket {ticket}"
    audit = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "create_template")).one()
    assert audit.actor == "user:sari" and audit.subject == f"template:{template.id}"


def test_a_wrong_placeholder_is_refused_and_what_was_typed_is_kept(console, session):
    client = console.signed_in("sari", "agent")
    reply = _draft(client, body="Halo {nama}, terima kasih.")
    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert "Draft not saved: unknown placeholder {nama}" in html and 'role="status"' in html
    assert "Halo {nama}, terima kasih.</textarea>" in html
    assert 'value="payment_reminder"' in html
    assert session.scalars(select(Template)).first() is None
    second = _draft(client)
    assert second.status_code == 302
    duplicate = _draft(client, body="Another text")
    assert duplicate.status_code == 409 and "has an open draft" in duplicate.get_data(as_text=True)


def test_qa_approves_someone_elses_draft(console, session):
    _draft(console.signed_in("sari", "agent"))
    qa = console.signed_in("quinn", "qa")
    template = _template(session)
    assert "Read and review" in qa.get(PAGE).get_data(as_text=True)
    assert APPROVE in _review_page(qa, template.id)
    reply = _review(qa, template.id)
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert "payment_reminder (Indonesian) v1 approved." in html
    assert _rows(html)[0].startswith("Indonesian v1 Approved Email sari quinn")
    assert APPROVE not in _review_page(qa, template.id)
    stored = _template(session)
    assert stored.status == "approved" and templates.find_approved(
        session, "payment_reminder", "id") == stored
    assert session.scalars(select(AuditEntry.actor).where(
        AuditEntry.action == "approve_template")).all() == ["user:quinn"]


def test_the_approve_button_sits_under_the_full_text_not_beside_the_list(console, session):
    """QA cannot approve from the listing, where the text is folded away: the buttons are on
    the template's page, in one card with the subject and the whole body."""
    long_body = "Halo {name}.\n" + "Baris penjelasan.\n" * 40 + "Salam, tim Cankul {ticket}"
    _draft(console.signed_in("sari", "agent"), body=long_body)
    qa = console.signed_in("quinn", "qa")
    listing = qa.get(PAGE).get_data(as_text=True)
    assert "/approve" not in listing and APPROVE not in listing
    page = _review_page(qa, _template(session).id)
    card = re.search(r'<section class="card" aria-labelledby="review-h">(.*?)</section>', page,
                     re.S)
    assert card is not None
    text = card.group(1)
    assert "Tiket {ticket}" in text and "Salam, tim Cankul {ticket}</pre>" in text
    assert text.index("</pre>") < text.index(APPROVE) < text.index("Reject with this reason")
    assert "<details" not in text


def test_a_draft_edited_after_qa_opened_it_is_refused_and_shown_to_be_read_again(console,
                                                                                 session):
    """The approval names the text on QA's page: sari's change made meanwhile is not approved
    unread; QA lands on the page again, with the new text, and approves that."""
    sari = console.signed_in("sari", "agent")
    _draft(sari)
    template = _template(session)
    qa = console.signed_in("quinn", "qa")
    opened = _review_page(qa, template.id)
    post_form(sari, f"{PAGE}/{template.id}", f"{PAGE}/{template.id}/edit",
              {"subject": "Tiket {ticket}", "body": "Transfer ke rekening 123 hari ini."})
    refused = _review(qa, template.id, read=_digest(opened))
    html = refused.get_data(as_text=True)
    assert "Not approved: the text changed after you opened it; read it again." in html
    assert "Transfer ke rekening 123 hari ini.</pre>" in html  # the page shows what changed
    assert _template(session).status == "draft"
    assert session.scalars(select(AuditEntry).where(
        AuditEntry.action == "approve_template")).first() is None
    assert "approved." in _review(qa, template.id).get_data(as_text=True)
    assert _template(session).status == "approved"


def test_qa_rejects_with_a_reason_the_author_reads_it_and_edits(console, session):
    sari = console.signed_in("sari", "agent")
    _draft(sari)
    template = _template(session)
    qa = console.signed_in("quinn", "qa")
    read = _digest(_review_page(qa, template.id))
    empty = _review(qa, template.id, "reject", reason="  ")
    assert "Not rejected: reason is required" in empty.get_data(as_text=True)
    assert _template(session).status == "draft"
    done = _review(qa, template.id, "reject",
                   reason="Sebutkan tanggal jatuh tempo, bukan hanya jumlahnya.")
    assert "sent back to its author" in done.get_data(as_text=True)
    assert _template(session).status == "rejected"
    assert "Sent back by QA" in sari.get(PAGE).get_data(as_text=True)
    page = _review_page(sari, template.id)
    assert "Sent back by QA" in page and "quinn" in page
    assert "Sebutkan tanggal jatuh tempo, bukan hanya jumlahnya." in page
    assert "Save changes" in page  # the rejected draft is edited in place
    assert APPROVE not in _review_page(qa, template.id)
    forced = _review(qa, template.id, read=read)  # not approvable until its author edits it
    assert "Not approved: template" in forced.get_data(as_text=True)
    assert "was rejected; its author edits it first" in forced.get_data(as_text=True)
    assert _template(session).status == "rejected"
    post_form(sari, f"{PAGE}/{template.id}", f"{PAGE}/{template.id}/edit",
              {"subject": "Tiket {ticket}", "body": "Halo {name}, {amount} jatuh tempo "
                                                    "{due_date}."})
    assert _template(session).status == "draft"
    assert "Sent back by QA" not in _review_page(sari, template.id)
    assert "approved." in _review(qa, template.id).get_data(as_text=True)
    assert session.scalars(select(AuditEntry.actor).where(
        AuditEntry.action == "reject_template")).all() == ["user:quinn"]


def test_qa_never_approves_their_own_text(console, session):
    qa = console.signed_in("quinn", "qa")
    _draft(qa)
    html = qa.get(PAGE).get_data(as_text=True)
    assert "Read and review" not in html and "not you: you wrote it" in html
    template = _template(session)
    assert APPROVE not in _review_page(qa, template.id)
    # The form copied from a colleague's page does not help either.
    colleague_page = _review_page(console.signed_in("qa3", "qa"), template.id)
    forced = _review(qa, template.id, read=_digest(colleague_page))
    assert "Not approved: a template is approved by someone other than its author" in (
        forced.get_data(as_text=True))
    assert _template(session).status == "draft"
    assert session.scalars(select(AuditEntry).where(
        AuditEntry.action == "approve_template")).first() is None


def test_only_qa_approves(console, session):
    _draft(console.signed_in("sari", "agent"))
    template = _template(session)
    qa_page = _review_page(console.signed_in("quinn", "qa"), template.id)
    for username, role in (("dewi", "agent"), ("boss", "supervisor")):
        other = console.signed_in(username, role)
        html = other.get(PAGE).get_data(as_text=True)
        assert "Read and review" not in html and "Awaiting approval by QA" in html
        assert APPROVE not in _review_page(other, template.id)
        forced = _review(other, template.id, read=_digest(qa_page))
        assert "Not approved: only QA may approve templates" in forced.get_data(as_text=True)
    assert _template(session).status == "draft"
    admin = console.signed_in("root", "admin")
    assert APPROVE in _review_page(admin, template.id)


def test_editing_an_approved_template_makes_a_new_draft_and_keeps_the_approved_one(console,
                                                                                    session):
    _draft(console.signed_in("sari", "agent"))
    qa = console.signed_in("quinn", "qa")
    _review(qa, _template(session).id)
    editor = console.signed_in("dewi", "agent")
    approved = _template(session)
    page = editor.get(f"/console/templates/{approved.id}").get_data(as_text=True)
    assert "Save as new draft" in page and "Halo {name}, tagihan Anda {amount}.</textarea>" in page
    reply = post_form(editor, f"/console/templates/{approved.id}",
                      f"/console/templates/{approved.id}/edit",
                      {"subject": "Tiket {ticket}", "body": "Halo {name}, jatuh tempo {due_date}."})
    assert reply.status_code == 302
    html = editor.get(PAGE).get_data(as_text=True)
    assert "Saved as a new draft, v2; v1 stays in use until QA approves the new one." in html
    rows = _rows(html)
    assert rows[0].startswith("Indonesian v2 Draft Email dewi")
    assert rows[1].startswith("Indonesian v1 Approved")
    assert _template(session, 1).status == "approved"
    assert _template(session, 2).body == "Halo {name}, jatuh tempo {due_date}."
    # QA approves v2: v1 is retired, v2 is the one sent.
    _review(qa, _template(session, 2).id)
    assert _template(session, 1).status == "retired"
    assert templates.find_approved(session, "payment_reminder", "id").version == 2
    edits = session.scalars(select(AuditEntry.detail).where(
        AuditEntry.action == "edit_template")).all()
    assert edits == [f"payment_reminder/id v2 from template:{approved.id}"]


def test_the_author_of_an_edited_draft_is_its_last_writer(console, session):
    """Four eyes hold after an edit: QA who rewrote a draft can no longer approve it."""
    _draft(console.signed_in("sari", "agent"))
    qa = console.signed_in("quinn", "qa")
    template = _template(session)
    post_form(qa, f"/console/templates/{template.id}", f"/console/templates/{template.id}/edit",
              {"subject": "", "body": "Halo {name}."})
    assert APPROVE not in _review_page(qa, template.id)
    stored = _template(session)
    quinn = session.scalars(select(User).where(User.username == "quinn")).one()
    assert stored.created_by == quinn.id and stored.subject is None
    assert APPROVE in _review_page(console.signed_in("sari2", "qa"), template.id)
