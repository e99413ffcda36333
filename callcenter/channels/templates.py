"""Reply templates approved by QA (P3.3).

Life of a template (one ``key`` per language, versions numbered from 1):

- any user drafts it; a draft is edited in place, and whoever last wrote its text counts as
  its author (``created_by``);
- only ``qa`` or ``admin`` approve, and never their own text (four eyes: the approver is not
  the author, whatever their role). An approval names the text the reviewer read (its
  :func:`digest`, which the page or the API showed them with it): a draft edited since is
  refused (409) and must be read again, so what goes out is exactly what QA read;
- QA may instead reject a draft with a reason (status ``rejected``); the author sees who,
  when and why (:func:`rejection`, from the audit row), and editing it makes it a draft again;
- editing an approved template writes a new draft version; the approved one stays the one
  that is sent until the new version is approved, which retires it;
- only approved templates are sent; retired ones are kept for the record;
- every change (draft, edit, approval) writes its audit row here, as the person who made it,
  whether they used the console or the JSON API.

Placeholders are the customer's data: ``{name} {ticket} {amount} {due_date} {va} {bank}
{email}``; anything else (unknown names, ``{0}``, ``{name.attr}``, format specs) is refused
when the draft is written, so rendering cannot fail on the template's side.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.i18n import Msg
from callcenter.labels import label
from callcenter.models import AuditEntry, Customer, Template, Ticket, User, utcnow
from callcenter.people import users
from callcenter.statuses import TemplateStatus
from callcenter.voice.answers import long_date, rupiah

PLACEHOLDERS = ("name", "ticket", "amount", "due_date", "va", "bank", "email")
LANGUAGES = ("id", "en")
CHANNELS = ("email", "sms", "whatsapp")
APPROVER_ROLES = ("qa",)  # and admin (users.has_role)
_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,79}$")
_CUSTOMER_FIELDS = frozenset({"name", "amount", "due_date", "va", "bank"})
MAX_BODY = 20_000
MAX_REASON = 1000
OPEN_STATUSES = (TemplateStatus.DRAFT, TemplateStatus.REJECTED)  # one per key and language
REJECT_ACTION = "reject_template"


class TemplateError(ValueError):
    """A refused template operation; ``status`` is the HTTP answer (400, 403, 404, 409)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def placeholders(text: str) -> list[str]:
    """The placeholders ``text`` uses; TemplateError if one is unknown or malformed."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(Msg("template text is malformed (%(why)s); write a literal brace as "
                                "{{ or }}", why=str(exc))) from exc
    found: list[str] = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise TemplateError(Msg("unknown placeholder {%(name)s}; allowed: %(allowed)s",
                                    name=name,
                                    allowed=", ".join("{" + p + "}" for p in PLACEHOLDERS)))
        found.append(name)
    return found


def _check_text(body: Any, subject: Any) -> tuple[str, str | None]:
    if not isinstance(body, str) or not body.strip():
        raise TemplateError(Msg("body is required"))
    if len(body) > MAX_BODY:
        raise TemplateError(Msg("body is longer than %(limit)s characters", limit=MAX_BODY))
    if subject is not None and (not isinstance(subject, str) or len(subject) > 250):
        raise TemplateError(Msg("subject must be a text of at most 250 characters"))
    placeholders(body)
    if subject:
        placeholders(subject)
    return body, subject or None


def _open_draft(session: Session, key: str, language: str) -> Template | None:
    """The draft of ``key`` in ``language`` being written or reviewed (a rejected one too)."""
    return session.scalars(select(Template).where(
        Template.key == key, Template.language == language,
        Template.status.in_(OPEN_STATUSES))).first()


def digest(template: Template) -> str:
    """What a reviewer read: a SHA-256 of the subject and the body, hex. The review page and
    the API show it with the text, and an approval or rejection must name it."""
    text = (template.subject or "") + "\0" + template.body
    return hashlib.sha256(text.encode()).hexdigest()


def _next_version(session: Session, key: str, language: str) -> int:
    current = session.scalar(select(func.max(Template.version)).where(
        Template.key == key, Template.language == language))
    return (current or 0) + 1


def _subject(template: Template) -> str:
    return f"template:{template.id}"


def _describe(template: Template) -> str:
    return f"{template.key}/{template.language} v{template.version}"


def _audit(session: Session, person: User, action: str, template: Template,
           extra: str = "") -> None:
    audit.record(session, users.actor_of(person), action, _subject(template),
                 f"{_describe(template)}{extra}")


def create_draft(session: Session, author: User, *, key: Any, language: Any, body: Any,
                 subject: Any = None, channel: Any = "email") -> Template:
    """A new draft (any user). One open draft per key and language: edit that one instead."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise TemplateError(Msg("key must be 1-80 characters of a-z, 0-9, _ . - (lower case)"))
    if language not in LANGUAGES:
        raise TemplateError(Msg("language must be one of %(languages)s",
                                 languages=", ".join(LANGUAGES)))
    if channel not in CHANNELS:
        raise TemplateError(Msg("channel must be one of %(channels)s",
                                channels=", ".join(CHANNELS)))
    body, subject = _check_text(body, subject)
    existing = _open_draft(session, key, language)
    if existing is not None:
        raise TemplateError(Msg("template '%(key)s' (%(language)s) has an open draft (id %(id)s): "
                                "edit it instead", key=key, language=language, id=existing.id),
                            409)
    template = Template(key=key, language=language, channel=channel, subject=subject, body=body,
                        version=_next_version(session, key, language),
                        status=TemplateStatus.DRAFT, created_by=author.id)
    session.add(template)
    session.flush()
    _audit(session, author, "create_template", template)
    return template


def edit(session: Session, editor: User, template: Template, *, body: Any = None,
         subject: Any = None, subject_given: bool = False) -> tuple[Template, bool]:
    """Change a template's text: a draft in place, an approved one into a new draft version
    (returned with ``True``); the approved one is still sent until the new one is approved."""
    new_body = template.body if body is None else body
    new_subject = subject if subject_given else template.subject
    new_body, new_subject = _check_text(new_body, new_subject)
    _lock(session, template)  # an approval committing meanwhile turns this into a new version
    if template.status in OPEN_STATUSES:
        template.body, template.subject = new_body, new_subject
        template.status = TemplateStatus.DRAFT  # a rejected draft goes back to QA
        template.created_by = editor.id  # the author of the text now on the draft
        session.flush()
        _audit(session, editor, "edit_template", template)
        return template, False
    if template.status == TemplateStatus.RETIRED:
        raise TemplateError(Msg("template %(id)s is retired; edit the approved version",
                                id=template.id), 409)
    existing = _open_draft(session, template.key, template.language)
    if existing is not None:
        raise TemplateError(Msg("template '%(key)s' (%(language)s) already has a draft "
                                "(id %(id)s): edit that one", key=template.key,
                                language=template.language, id=existing.id), 409)
    draft = Template(key=template.key, language=template.language, channel=template.channel,
                     subject=new_subject, body=new_body, status=TemplateStatus.DRAFT,
                     version=_next_version(session, template.key, template.language),
                     created_by=editor.id, twilio_content_sid=None)
    session.add(draft)
    session.flush()
    _audit(session, editor, "edit_template", draft, f" from template:{template.id}")
    return draft, True


def _lock(session: Session, template: Template) -> None:
    """Re-read the row under a lock (PostgreSQL ``FOR UPDATE``): an edit and a review of the
    same draft take turns, so an approval never lands on text nobody read."""
    if template.id is not None:
        session.refresh(template, with_for_update=True)


def _review(session: Session, reviewer: User, template: Template, read: Any, verb: str) -> None:
    """The rules an approval and a rejection share: QA's role, a draft, four eyes, and the
    text the reviewer read is the draft's text now."""
    if not users.has_role(reviewer, *APPROVER_ROLES):
        raise TemplateError(Msg("only QA may approve templates") if verb == "approve"
                            else Msg("only QA may reject templates"), 403)
    if not isinstance(read, str) or not read.strip():
        raise TemplateError(Msg("digest is required: the digest shown with the text you read"),
                            400)
    _lock(session, template)
    if template.status == TemplateStatus.REJECTED:
        raise TemplateError(Msg("template %(id)s was rejected; its author edits it first",
                                id=template.id), 409)
    if template.status != TemplateStatus.DRAFT:
        raise TemplateError(Msg("template %(id)s is %(status)s, not a draft", id=template.id,
                                status=label("template status", template.status)
                                or template.status), 409)
    if template.created_by == reviewer.id:
        raise TemplateError(Msg("a template is approved by someone other than its author")
                            if verb == "approve" else
                            Msg("a template is rejected by someone other than its author"), 403)
    if read.strip().lower() != digest(template):
        raise TemplateError(Msg("the text changed after you opened it; read it again"), 409)


def approve(session: Session, approver: User, template: Template, *, read: Any,
            now: datetime | None = None) -> Template:
    """QA (or admin) approves a draft that someone else wrote, naming the text they read
    (``read``, its :func:`digest`); the previously approved version of the same key and
    language is retired."""
    _review(session, approver, template, read, "approve")
    for previous in session.scalars(select(Template).where(
            Template.key == template.key, Template.language == template.language,
            Template.status == TemplateStatus.APPROVED, Template.id != template.id)):
        previous.status = TemplateStatus.RETIRED
    template.status = TemplateStatus.APPROVED
    template.approved_by = approver.id
    template.approved_at = now or utcnow()
    session.flush()
    _audit(session, approver, "approve_template", template, f" {digest(template)[:12]}")
    return template


def reject(session: Session, reviewer: User, template: Template, *, read: Any,
           reason: Any) -> Template:
    """QA (or admin) sends someone else's draft back with ``reason``, naming the text they
    read; the author sees the reason (:func:`rejection`) and edits the draft."""
    if not isinstance(reason, str) or not reason.strip():
        raise TemplateError(Msg("reason is required: tell the author what to change"), 400)
    if len(reason.strip()) > MAX_REASON:
        raise TemplateError(Msg("reason has at most %(limit)s characters", limit=MAX_REASON), 400)
    _review(session, reviewer, template, read, "reject")
    template.status = TemplateStatus.REJECTED
    session.flush()
    _audit(session, reviewer, REJECT_ACTION, template, f": {reason.strip()}")
    return template


@dataclass(frozen=True)
class Rejection:
    """Why QA sent a draft back: who (``user:<name>``), when, and the reason in their words."""

    by: str
    at: datetime
    reason: str


def rejection(session: Session, template: Template) -> Rejection | None:
    """The reason a rejected draft was sent back (its latest ``reject_template`` audit row);
    None for any other status."""
    if template.status != TemplateStatus.REJECTED:
        return None
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.subject == _subject(template), AuditEntry.action == REJECT_ACTION)
        .order_by(AuditEntry.id.desc()).limit(1)).first()
    if entry is None:
        return None
    prefix = f"{_describe(template)}: "
    detail = entry.detail or ""
    return Rejection(entry.actor, entry.at, detail.removeprefix(prefix))


def find_approved(session: Session, key: str, language: str) -> Template | None:
    return session.scalars(select(Template).where(
        Template.key == key, Template.language == language,
        Template.status == TemplateStatus.APPROVED)
        .order_by(Template.version.desc())).first()


def fields_for(ticket: Ticket, customer: Customer | None, language: str,
               email: str | None = None) -> dict[str, str | None]:
    """The values placeholders take; None where the customer's data lacks one."""
    values: dict[str, str | None] = {"ticket": ticket.number,
                                     "email": email or (customer.email if customer else None)}
    if customer is not None:
        values.update(
            name=customer.name,
            amount=rupiah(customer.amount_due, language) if customer.amount_due is not None
            else None,
            due_date=long_date(customer.due_date, language) if customer.due_date else None,
            va=customer.va_number, bank=customer.va_bank)
    return values


def render_text(text: str, values: dict[str, str | None]) -> str:
    missing = [n for n in placeholders(text) if not values.get(n)]
    if missing:
        raise TemplateError(Msg("the customer's data has no %(fields)s for this template",
                                fields=", ".join(sorted(set(missing)))), 409)
    return text.format_map(values)


def render(template: Template, *, ticket: Ticket, customer: Customer | None,
           email: str | None = None) -> tuple[str | None, str]:
    """(subject, body) for the ticket's customer; TemplateError (409) when data is missing."""
    if customer is None and _CUSTOMER_FIELDS & set(placeholders(template.body)):
        raise TemplateError(Msg("the ticket is not linked to a customer: this template needs the "
                                "customer's data"), 409)
    values = fields_for(ticket, customer, template.language, email)
    subject = render_text(template.subject, values) if template.subject else None
    return subject, render_text(template.body, values)


def template_json(template: Template, usernames: dict[int, str] | None = None,
                  rejected: Rejection | None = None) -> dict[str, Any]:
    names = usernames or {}
    return {
        "id": template.id, "key": template.key, "language": template.language,
        "version": template.version, "status": template.status, "channel": template.channel,
        "subject": template.subject, "body": template.body, "digest": digest(template),
        "rejection": {"by": rejected.by.removeprefix("user:"), "at": rejected.at.isoformat(),
                      "reason": rejected.reason} if rejected else None,
        "placeholders": sorted(set(placeholders(template.body))),
        "created_by": names.get(template.created_by or 0),
        "approved_by": names.get(template.approved_by or 0),
        "approved_at": template.approved_at.isoformat() if template.approved_at else None,
        "created_at": template.created_at.isoformat() if template.created_at else None,
    }


def usernames(session: Session, templates: list[Template]) -> dict[int, str]:
    ids = {i for t in templates for i in (t.created_by, t.approved_by) if i}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())
