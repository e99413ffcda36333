"""Pages for customers (X3): the complaint procedure and a status look-up.

No sign-in. Both pages are in Indonesian (default) and English: ``?lang=id|en`` (every link and
the language switch carry it), else English when the browser's ``Accept-Language`` prefers it
(:func:`webhooks.i18n.select_language`, as for the console before sign-in).

Their words stay in ``callcenter/content/public.json``, not in the gettext catalogs: they are
the lender's published complaint procedure (X3), legal text the business and compliance edit
beside the IVR's words (``ivr.json``) without a developer, in both languages side by side
(:func:`load_texts` refuses a key missing in one), with placeholders filled from the settings.
Every deadline on them comes from :func:`callcenter.compliance.regulation.rules_for`, so the
page follows ``COMPLAINT_RULES``. The pages' frame (skip link, error pages) is translated
through the catalogs like the console.

The status form is CSRF-protected like every form of the app (Flask-WTF), rate-limited per
client address and per ticket number (:mod:`callcenter.compliance.status_lookup`), fails closed when
Redis is down, and shows only a status and a due date (see that module for why).

Client address: ``request.remote_addr``. Behind a reverse proxy or load balancer that is the
proxy's address, so every customer would share one allowance: set ``TRUSTED_PROXY_HOPS`` to the
number of proxies in front (the app then wraps itself in werkzeug's ``ProxyFix``) so that it is
the customer's address. ``X-Forwarded-For`` is never trusted beyond those hops, or a client
would pick its own allowance.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from flask import Blueprint, Response, make_response, render_template, request
from redis.exceptions import RedisError

from callcenter.compliance import regulation, status_lookup
from callcenter.config import Settings
from callcenter.content import CONTENT_DIR
from callcenter.voice.answers import long_date
from webhooks.context import content, db, settings
from webhooks.i18n import current_language
from workers.queues import redis_connection

bp = Blueprint("public", __name__)
log = logging.getLogger(__name__)

LANGUAGES = ("id", "en")
TEXTS_PATH = CONTENT_DIR / "public.json"
UNAVAILABLE_RETRY_S = 60


@lru_cache(maxsize=4)
def load_texts(path: str = str(TEXTS_PATH)) -> dict[str, dict[str, Any]]:
    """The pages' words per language; both languages must have the same keys."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    missing = set(data["id"]) ^ set(data["en"])
    if missing:
        raise ValueError(f"public page texts not in both languages: {sorted(missing)}")
    return {lang: data[lang] for lang in LANGUAGES}


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def display_phone(number: str) -> str:
    """``+622150001234`` → ``(021) 50001234``: how Indonesians write a number they dial."""
    try:
        parsed = phonenumbers.parse(number, "ID")
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def page_fields(current: Settings, **extra: Any) -> dict[str, Any]:
    """What the texts' placeholders stand for, from the settings (deadlines from the rules)."""
    rules = regulation.rules_for(current)
    start, end = current.calling_hours
    return _Fields(
        lender=current.lender_name,
        hotline=display_phone(current.twilio_phone_number),
        messaging_number=display_phone(current.twilio_phone_number),
        email=current.support_email,
        oral_days=rules.oral_days,
        written_days=rules.written_days,
        extension_days=rules.extension_days,
        citation=rules.citation,
        calling_start=start.strftime("%H.%M"),
        calling_end=end.strftime("%H.%M"),
        **extra,
    )


def words(lang: str, current: Settings, **extra: Any) -> dict[str, Any]:
    """The language's texts with their placeholders filled in."""
    fields = page_fields(current, **extra)

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.format_map(fields)
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    return {key: fill(value) for key, value in load_texts()[lang].items()}


def page_language() -> str:
    """``id`` or ``en``: ``?lang=``, else the browser's preference, else Indonesian."""
    return current_language()


def _render(template: str, lang: str, status: int = 200, *, private: bool = False,
            headers: dict[str, str] | None = None, **context: Any) -> Response:
    current = settings()
    extra = context.pop("fields", {})
    other = "en" if lang == "id" else "id"
    response = make_response(render_template(
        template, lang=lang, other_lang=other, t=words(lang, current, **extra),
        other_t=words(other, current, **extra),
        hotline_e164=current.twilio_phone_number,
        hotline_display=display_phone(current.twilio_phone_number),
        support_email=current.support_email,
        **context), status)
    if private:
        response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.get("/")
def procedure() -> Response:
    """X3: the complaint procedure, for anyone, in the page language."""
    current = settings()
    return _render("public/procedure.html", page_language(),
                   collective_leave=current.collective_leave_stops_clock,
                   company_days_off=bool(current.company_days_off))


@bp.route("/status", methods=["GET", "POST"])
def status() -> Response:
    """X3: a customer's complaint status for its ticket number and phone number."""
    lang = page_language()
    if request.method == "GET":
        return _render("public/status.html", lang)
    number = (request.form.get("ticket") or "").strip()[:40]
    phone = (request.form.get("phone") or "").strip()[:40]
    if not number or not phone:
        return _render("public/status.html", lang, 400, error="missing_fields", private=True)
    current = settings()
    client = status_lookup.client_hash(current, request.remote_addr)
    session = db()
    try:
        refused = status_lookup.count_attempt(redis_connection(current), current, client,
                                              number)
    except RedisError as exc:
        # Fail closed: without the counters the form would allow unlimited guessing.
        log.warning("status look-up refused: Redis unavailable (%s)", type(exc).__name__)
        status_lookup.record(session, client, "unavailable")
        session.commit()
        return _render("public/unavailable.html", lang, 503, private=True,
                       headers={"Retry-After": str(UNAVAILABLE_RETRY_S)})
    if refused is not None:
        status_lookup.record(session, client, "rate_limited")
        session.commit()
        minutes = max(1, -(-refused.retry_after_s // 60))
        return _render("public/limited.html", lang, 429, private=True,
                       headers={"Retry-After": str(refused.retry_after_s)},
                       fields={"minutes": minutes}, minutes=minutes)
    view = status_lookup.look_up(session, current, number, phone)
    status_lookup.record(session, client, "found" if view else "not_found", view)
    session.commit()
    if view is None:
        return _render("public/status_result.html", lang, 404, private=True, found=False)
    return _render("public/status_result.html", lang, private=True, found=True,
                   status_text=_status_words(lang, view.status),
                   due_text=_due_words(lang, view, current), extended=view.extended)


def _status_words(lang: str, status_key: str) -> str:
    """The status in words, the same wording as the SMS/WhatsApp and IVR answers."""
    return (content().lookup(lang, "ticket_statuses", status_key)
            or load_texts()[lang]["status_fallback"])


def _due_words(lang: str, view: status_lookup.StatusView, current: Settings) -> str | None:
    if view.due_at is None:
        return None
    return long_date(view.due_at.astimezone(ZoneInfo(current.timezone)).date(), lang)
