"""One settings object read from the environment (12-factor), see ../shared/CONTRACT.md.

Nothing else in the project reads ``os.environ``: a setting is added here, documented in the
README, and passed along.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

DEV_ACCOUNT_SID = "AC" + "d" * 32  # dev value only the local simulator accepts
DEV_AUTH_TOKEN = "dev-auth-token-only-the-simulator-accepts"
DEV_SECRET_KEY = "dev-secret-key-refused-outside-debug"
DEV_BASE_URL = "http://127.0.0.1:5000"  # `callcenter dev` serves here
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting is present but unusable; the message names the variable, never a secret."""


def instance_dir() -> Path:
    """Where the dev run keeps its SQLite file and Redis socket (``CALLCENTER_INSTANCE``)."""
    return Path(os.environ.get("CALLCENTER_INSTANCE") or PROJECT_ROOT / "instance")


def _default_database_url() -> str:
    return f"sqlite:///{instance_dir() / 'callcenter.sqlite3'}"


def embedded_redis_socket() -> Path:
    """Where the dev run's embedded Redis listens (a unix socket: no port to collide on)."""
    return instance_dir() / "redis.sock"


def normalise_database_url(url: str) -> str:
    """SQLAlchemy 2 refuses ``postgres://`` and maps ``postgresql://`` to psycopg 3 only when asked.

    Heroku-style URLs are rewritten so an operator can paste what their provider shows.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def parse_calling_hours(value: str) -> tuple[time, time]:
    """``08:00-20:00`` → (08:00, 20:00); FACTS.md: callbacks only inside this local window."""
    try:
        start_s, end_s = value.split("-")
        start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
    except ValueError as exc:
        raise ConfigError(f"CALLING_HOURS must look like 08:00-20:00, got {value!r}") from exc
    if not start < end:
        raise ConfigError("CALLING_HOURS must start before it ends")
    return start, end


COMPLAINT_RULE_SETS = ("pojk22_2023", "pojk18_2018")


def parse_complaint_rules(value: str) -> str:
    """``COMPLAINT_RULES``: which regulation's complaint deadlines apply
    (callcenter.compliance.regulation)."""
    rules = value.strip().lower()
    if rules not in COMPLAINT_RULE_SETS:
        raise ConfigError(f"COMPLAINT_RULES must be one of {', '.join(COMPLAINT_RULE_SETS)}, "
                          f"got {value!r}")
    return rules


def parse_days_off(value: str) -> tuple[date, ...]:
    """``COMPANY_DAYS_OFF``: comma-separated ISO dates the company declares non-working."""
    days: list[date] = []
    for part in value.split(","):
        if not part.strip():
            continue
        try:
            days.append(date.fromisoformat(part.strip()))
        except ValueError as exc:
            raise ConfigError(
                f"COMPANY_DAYS_OFF must be ISO dates like 2026-12-31, got {part.strip()!r}"
            ) from exc
    return tuple(sorted(set(days)))


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the contract's defaults."""

    database_url: str = field(default_factory=_default_database_url)
    redis_url: str | None = None
    twilio_account_sid: str = DEV_ACCOUNT_SID
    twilio_auth_token: str = DEV_AUTH_TOKEN
    twilio_phone_number: str = "+622150001234"
    twilio_api_url: str = "https://api.twilio.com"
    public_base_url: str | None = None
    timezone: str = "Asia/Jakarta"
    calling_hours: tuple[time, time] = (time(8), time(20))
    api_tokens: tuple[str, ...] = ()
    secret_key: str = DEV_SECRET_KEY
    email_webhook_auth: str | None = None
    smtp_url: str | None = None
    debug: bool = False
    # Not in the contract: tuning knobs with safe defaults (README lists them).
    support_email: str = "cs@cankul.co.id"
    email_domain: str = "cankul.co.id"  # right-hand side of our outgoing Message-IDs
    email_max_bytes: int = 20 * 1024 * 1024  # one inbound-parse post, attachments included
    email_max_attachment_bytes: int = 5 * 1024 * 1024  # each attachment
    agent_queue_name: str = "support"
    queue_max_wait_s: int = 90
    max_verification_attempts: int = 3
    content_path: Path | None = None
    queue_prefix: str = ""
    callback_max_attempts: int = 4
    callback_daily_cap: int = 3
    callback_retry_minutes: tuple[int, ...] = (10, 30, 120)
    dropped_call_delay_s: int = 300
    no_response_hours: int = 24
    dial_rate_per_s: float = 1.0
    retention_days: int = 5 * 365
    supervisor_emails: tuple[str, ...] = ()
    # Complaint deadlines (callcenter.compliance.regulation): POJK 22/2023 figures by
    # default.
    complaint_rules: str = "pojk22_2023"
    collective_leave_stops_clock: bool = False  # FACTS: unconfirmed, so a setting
    company_days_off: tuple[date, ...] = ()
    complaint_nearing_working_days: int = 1
    lender_name: str = "Cankul"
    # Agent console: browser phones get a Twilio Voice access token signed with an
    # API key; without these the console says the browser phone is not configured.
    twilio_api_key_sid: str | None = None
    twilio_api_key_secret: str | None = None
    twilio_twiml_app_sid: str | None = None
    console_session_hours: int = 10  # one shift; the cookie expires after it
    trusted_proxy_hops: int = 0  # proxies in front that set X-Forwarded-For (rate limits, URLs)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the contract's variables (and a ``.env`` file when present)."""
        if env is None:
            load_dotenv(PROJECT_ROOT / ".env", override=False)
            env = dict(os.environ)
        get = env.get
        tokens = tuple(t.strip() for t in get("API_TOKEN", "").split(",") if t.strip())
        settings = cls(
            database_url=normalise_database_url(get("DATABASE_URL") or _default_database_url()),
            redis_url=get("REDIS_URL") or None,
            twilio_account_sid=get("TWILIO_ACCOUNT_SID") or DEV_ACCOUNT_SID,
            twilio_auth_token=get("TWILIO_AUTH_TOKEN") or DEV_AUTH_TOKEN,
            twilio_phone_number=get("TWILIO_PHONE_NUMBER") or "+622150001234",
            twilio_api_url=(get("TWILIO_API_URL") or "https://api.twilio.com").rstrip("/"),
            public_base_url=(get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            timezone=get("CALLCENTER_TZ") or "Asia/Jakarta",
            calling_hours=parse_calling_hours(get("CALLING_HOURS") or "08:00-20:00"),
            api_tokens=tokens,
            secret_key=get("SECRET_KEY") or DEV_SECRET_KEY,
            email_webhook_auth=get("EMAIL_WEBHOOK_AUTH") or None,
            smtp_url=get("SMTP_URL") or None,
            debug=(get("CALLCENTER_DEBUG") or "").lower() in ("1", "true", "yes"),
            support_email=get("CALLCENTER_SUPPORT_EMAIL") or "cs@cankul.co.id",
            email_domain=get("EMAIL_DOMAIN") or (
                (get("CALLCENTER_SUPPORT_EMAIL") or "cs@cankul.co.id").rpartition("@")[2]),
            email_max_bytes=int(get("EMAIL_MAX_BYTES") or 20 * 1024 * 1024),
            email_max_attachment_bytes=int(get("EMAIL_MAX_ATTACHMENT_BYTES") or 5 * 1024 * 1024),
            queue_max_wait_s=int(get("CALLCENTER_QUEUE_MAX_WAIT") or 90),
            content_path=Path(get("CALLCENTER_CONTENT")) if get("CALLCENTER_CONTENT") else None,
            queue_prefix=get("CALLCENTER_RQ_PREFIX") or "",
            callback_max_attempts=int(get("CALLBACK_MAX_ATTEMPTS") or 4),
            callback_daily_cap=int(get("CALLBACK_DAILY_CAP") or 3),
            callback_retry_minutes=tuple(
                int(m) for m in (get("CALLBACK_RETRY_MINUTES") or "10,30,120").split(",")),
            dropped_call_delay_s=int(get("CALLBACK_DROPPED_DELAY") or 300),
            no_response_hours=int(get("CALLBACK_NO_RESPONSE_HOURS") or 24),
            dial_rate_per_s=float(get("CALLBACK_DIAL_RATE") or 1.0),
            retention_days=int(get("RETENTION_DAYS") or 5 * 365),
            supervisor_emails=tuple(a.strip() for a in (get("SUPERVISOR_EMAILS") or "").split(",")
                                    if a.strip()),
            complaint_rules=parse_complaint_rules(get("COMPLAINT_RULES") or "pojk22_2023"),
            collective_leave_stops_clock=(get("COLLECTIVE_LEAVE_STOPS_CLOCK") or "").lower()
            in ("1", "true", "yes"),
            company_days_off=parse_days_off(get("COMPANY_DAYS_OFF") or ""),
            complaint_nearing_working_days=int(get("COMPLAINT_NEARING_WORKING_DAYS") or 1),
            lender_name=get("LENDER_NAME") or "Cankul",
            twilio_api_key_sid=get("TWILIO_API_KEY_SID") or None,
            twilio_api_key_secret=get("TWILIO_API_KEY_SECRET") or None,
            twilio_twiml_app_sid=get("TWILIO_TWIML_APP_SID") or None,
            console_session_hours=int(get("CONSOLE_SESSION_HOURS") or 10),
            trusted_proxy_hops=int(get("TRUSTED_PROXY_HOPS") or 0),
        )
        return replace(settings, **overrides) if overrides else settings

    @property
    def base_url(self) -> str:
        """Where Twilio reaches us: ``PUBLIC_BASE_URL``, never a request's ``Host`` (a forged
        Host must not choose where a job fetches its TwiML). Debug runs without it use the
        dev run's own address."""
        return self.public_base_url or DEV_BASE_URL

    @property
    def effective_redis_url(self) -> str:
        """REDIS_URL, else the embedded server's socket that ``callcenter dev`` starts."""
        return self.redis_url or f"unix://{embedded_redis_socket()}"

    def check_for_production(self) -> None:
        """Refuse dev secrets outside debug (CONTRACT: SECRET_KEY dev value refused)."""
        if not self.debug and self.secret_key == DEV_SECRET_KEY:
            raise ConfigError("SECRET_KEY must be set when CALLCENTER_DEBUG is off")
