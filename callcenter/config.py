"""One settings object read from the environment (12-factor), see ../shared/CONTRACT.md.

Nothing else in the project reads ``os.environ``: a setting is a field of :class:`Settings`
declared with :func:`setting` (its variable, its parser, its one default), documented in the
README; the dev run's children get their environment from :func:`child_environment`.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from dataclasses import field as dataclass_field
from datetime import date, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import load_dotenv

DEV_ACCOUNT_SID = "AC" + "d" * 32  # dev value only the local simulator accepts
DEV_AUTH_TOKEN = "dev-auth-token-only-the-simulator-accepts"
DEV_SECRET_KEY = "dev-secret-key-refused-outside-debug"
DEV_BASE_URL = "http://127.0.0.1:5000"  # `callcenter dev` serves here
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting is present but unusable; the message names the variable, never a secret."""


def _process_environment() -> dict[str, str]:
    """This process's environment, with a ``.env`` file's variables where it has none."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    return dict(os.environ)


def child_environment(defaults: Mapping[str, str],
                      overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the processes the dev run starts: this process's own (a ``.env``
    file included), ``defaults`` for each variable that is unset or empty (the way
    :meth:`Settings.from_env` reads them), and ``overrides`` over everything."""
    env = _process_environment()
    env.update({name: value for name, value in defaults.items() if not env.get(name)})
    env.update(overrides or {})
    return env


def proxies_configured() -> bool:
    """Whether the environment names a proxy for outbound HTTP, which requests honours by
    reading the environment on each request (:mod:`callcenter.voice.telephony`)."""
    return bool(urllib.request.getproxies())


def ca_bundle_from_environment() -> str | None:
    """The CA bundle requests would take from the environment (``REQUESTS_CA_BUNDLE``, else
    ``CURL_CA_BUNDLE``), read once instead of on every request."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def setting(env: str, parse: Callable[[str], Any] = str, *, default: Any) -> Any:
    """A :class:`Settings` field read from the variable ``env`` through ``parse``; when the
    variable is unset or empty the field keeps ``default``, its only default."""
    return dataclass_field(default=default, metadata={"env": env, "parse": parse})


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


def parse_flag(value: str) -> bool:
    return value.lower() in ("1", "true", "yes")


def parse_list(value: str) -> tuple[str, ...]:
    """Comma-separated, blanks dropped (``API_TOKEN`` rotation, ``SUPERVISOR_EMAILS``)."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_minutes(value: str) -> tuple[int, ...]:
    """``CALLBACK_RETRY_MINUTES``: the retry ladder, e.g. ``10,30,120``."""
    return tuple(int(minutes) for minutes in value.split(","))


LOG_FORMATS = ("text", "json")


def parse_log_format(value: str) -> str:
    """``LOG_FORMAT``: ``text`` lines for people, ``json`` lines for a log collector."""
    chosen = value.strip().lower()
    if chosen not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return chosen


def parse_api_url(value: str) -> str:
    return value.rstrip("/")


def parse_public_base_url(value: str) -> str | None:
    return value.rstrip("/") or None


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the contract's defaults (each stated once, here)."""

    # "" means a SQLite file in ``instance_dir`` (see __post_init__).
    database_url: str = setting("DATABASE_URL", normalise_database_url, default="")
    redis_url: str | None = setting("REDIS_URL", default=None)
    twilio_account_sid: str = setting("TWILIO_ACCOUNT_SID", default=DEV_ACCOUNT_SID)
    twilio_auth_token: str = setting("TWILIO_AUTH_TOKEN", default=DEV_AUTH_TOKEN)
    twilio_phone_number: str = setting("TWILIO_PHONE_NUMBER", default="+622150001234")
    twilio_api_url: str = setting("TWILIO_API_URL", parse_api_url,
                                  default="https://api.twilio.com")
    public_base_url: str | None = setting("PUBLIC_BASE_URL", parse_public_base_url,
                                          default=None)
    timezone: str = setting("CALLCENTER_TZ", default="Asia/Jakarta")
    calling_hours: tuple[time, time] = setting("CALLING_HOURS", parse_calling_hours,
                                               default=(time(8), time(20)))
    api_tokens: tuple[str, ...] = setting("API_TOKEN", parse_list, default=())
    secret_key: str = setting("SECRET_KEY", default=DEV_SECRET_KEY)
    email_webhook_auth: str | None = setting("EMAIL_WEBHOOK_AUTH", default=None)
    smtp_url: str | None = setting("SMTP_URL", default=None)
    debug: bool = setting("CALLCENTER_DEBUG", parse_flag, default=False)
    # Not in the contract: tuning knobs with safe defaults (README lists them).
    support_email: str = setting("CALLCENTER_SUPPORT_EMAIL", default="cs@cankul.co.id")
    # Right-hand side of our outgoing Message-IDs; "" means the support address's domain.
    email_domain: str = setting("EMAIL_DOMAIN", default="")
    # One inbound-parse post, attachments included; then each attachment.
    email_max_bytes: int = setting("EMAIL_MAX_BYTES", int, default=20 * 1024 * 1024)
    email_max_attachment_bytes: int = setting("EMAIL_MAX_ATTACHMENT_BYTES", int,
                                              default=5 * 1024 * 1024)
    agent_queue_name: str = "support"
    queue_max_wait_s: int = setting("CALLCENTER_QUEUE_MAX_WAIT", int, default=90)
    # After a call the agent wraps up (P1.7, P1.8) and is offered no call until they finish
    # the wrap-up card or this many seconds pass (an agent who forgets is not lost to routing).
    wrap_up_s: int = setting("WRAP_UP_SECONDS", int, default=60)
    max_verification_attempts: int = 3
    content_path: Path | None = setting("CALLCENTER_CONTENT", Path, default=None)
    queue_prefix: str = setting("CALLCENTER_RQ_PREFIX", default="")
    instance_dir: Path = setting("CALLCENTER_INSTANCE", Path,
                                 default=PROJECT_ROOT / "instance")  # the dev run's files
    callback_max_attempts: int = setting("CALLBACK_MAX_ATTEMPTS", int, default=4)
    callback_daily_cap: int = setting("CALLBACK_DAILY_CAP", int, default=3)
    callback_retry_minutes: tuple[int, ...] = setting("CALLBACK_RETRY_MINUTES", parse_minutes,
                                                      default=(10, 30, 120))
    dropped_call_delay_s: int = setting("CALLBACK_DROPPED_DELAY", int, default=300)
    no_response_hours: int = setting("CALLBACK_NO_RESPONSE_HOURS", int, default=24)
    dial_rate_per_s: float = setting("CALLBACK_DIAL_RATE", float, default=1.0)
    retention_days: int = setting("RETENTION_DAYS", int, default=5 * 365)
    supervisor_emails: tuple[str, ...] = setting("SUPERVISOR_EMAILS", parse_list, default=())
    # Complaint deadlines (callcenter.compliance.regulation): POJK 22/2023 figures by
    # default.
    complaint_rules: str = setting("COMPLAINT_RULES", parse_complaint_rules,
                                   default="pojk22_2023")
    # FACTS: unconfirmed, so a setting.
    collective_leave_stops_clock: bool = setting("COLLECTIVE_LEAVE_STOPS_CLOCK", parse_flag,
                                                 default=False)
    company_days_off: tuple[date, ...] = setting("COMPANY_DAYS_OFF", parse_days_off,
                                                 default=())
    complaint_nearing_working_days: int = setting("COMPLAINT_NEARING_WORKING_DAYS", int,
                                                  default=1)
    lender_name: str = setting("LENDER_NAME", default="Cankul")
    # Agent console: browser phones get a Twilio Voice access token signed with an
    # API key; without these the console says the browser phone is not configured.
    twilio_api_key_sid: str | None = setting("TWILIO_API_KEY_SID", default=None)
    twilio_api_key_secret: str | None = setting("TWILIO_API_KEY_SECRET", default=None)
    twilio_twiml_app_sid: str | None = setting("TWILIO_TWIML_APP_SID", default=None)
    # One shift; the cookie expires after it.
    console_session_hours: int = setting("CONSOLE_SESSION_HOURS", int, default=10)
    # Proxies in front that set X-Forwarded-For (rate limits, URLs).
    trusted_proxy_hops: int = setting("TRUSTED_PROXY_HOPS", int, default=0)
    # Operations: who may scrape /metrics (falls back to API_TOKEN), how long a worker or
    # scheduler may stay silent before /api/health answers 503 (0: reported, never 503; a
    # worker does not beat during a job, 120 s at most), the log line format, and gunicorn's
    # shared folder for per-process metrics.
    metrics_tokens: tuple[str, ...] = setting("METRICS_TOKEN", parse_list, default=())
    heartbeat_limit_s: int = setting("HEARTBEAT_LIMIT", int, default=180)
    log_format: str = setting("LOG_FORMAT", parse_log_format, default="text")
    prometheus_multiproc_dir: Path | None = setting("PROMETHEUS_MULTIPROC_DIR", Path,
                                                    default=None)

    def __post_init__(self) -> None:
        """Defaults that follow another setting."""
        if not self.database_url:
            object.__setattr__(self, "database_url",
                               f"sqlite:///{self.instance_dir / 'callcenter.sqlite3'}")
        if not self.email_domain:
            object.__setattr__(self, "email_domain", self.support_email.rpartition("@")[2])

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read each field's variable (and a ``.env`` file when present, unless ``env`` is
        given); an unset or empty variable leaves the field's default."""
        if env is None:
            env = _process_environment()
        values = {}
        for item in fields(cls):
            name = item.metadata.get("env")
            raw = env.get(name) if name else None
            if raw:
                values[item.name] = _parse(name, item.metadata["parse"], raw)
        settings = cls(**values)
        return replace(settings, **overrides) if overrides else settings

    @property
    def base_url(self) -> str:
        """Where Twilio reaches us: ``PUBLIC_BASE_URL``, never a request's ``Host`` (a forged
        Host must not choose where a job fetches its TwiML). Debug runs without it use the
        dev run's own address."""
        return self.public_base_url or DEV_BASE_URL

    @property
    def embedded_redis_socket(self) -> Path:
        """Where the dev run's embedded Redis listens (a unix socket: no port to collide on)."""
        return self.instance_dir / "redis.sock"

    @property
    def effective_redis_url(self) -> str:
        """REDIS_URL, else the embedded server's socket that ``callcenter dev`` starts."""
        return self.redis_url or f"unix://{self.embedded_redis_socket}"

    @property
    def metrics_bearer_tokens(self) -> tuple[str, ...]:
        """CONTRACT "Metrics": ``METRICS_TOKEN``, else the ``API_TOKEN`` bearer(s)."""
        return self.metrics_tokens or self.api_tokens

    @property
    def heartbeat_interval_s(self) -> int:
        """How often workers beat: four beats fit in ``HEARTBEAT_LIMIT`` (at most every 30 s),
        so one late beat never reads as silence."""
        if self.heartbeat_limit_s <= 0:
            return 30
        return max(1, min(30, self.heartbeat_limit_s // 4))

    def check_for_production(self) -> None:
        """Refuse to run outside debug with a dev secret or no public address: every problem
        of :func:`production_problems` at once, in one :class:`ConfigError`."""
        problems = production_problems(self)
        if problems:
            raise ConfigError(production_refusal(problems))


def production_problems(settings: Settings) -> list[str]:
    """What stops this configuration from serving real customers, one plain sentence per
    setting (CONTRACT "Additions", "Production settings"); empty in debug.

    An unset secret and the embedded dev value are the same thing to :class:`Settings` (the
    dev value is the field's default), and both are refused: the dev values are in this
    source code, so anyone could sign Twilio webhooks, session cookies and our email
    Message-IDs with them. Without ``PUBLIC_BASE_URL`` the URLs given to Twilio would fall
    back to the dev run's address.
    """
    if settings.debug:
        return []
    problems = []
    if settings.secret_key == DEV_SECRET_KEY:
        problems.append(
            "SECRET_KEY is not set (or is the development key written in the source code): "
            "anyone could forge console sessions and email reply addresses with it. Set it to "
            "a long random value kept secret, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`.")
    if settings.twilio_auth_token == DEV_AUTH_TOKEN:
        problems.append(
            "TWILIO_AUTH_TOKEN is not set (or is the development token written in the source "
            "code): anyone could send the service forged Twilio webhooks. Set it to the Auth "
            "Token of your Twilio account (Twilio Console, Account Info).")
    if settings.public_base_url is None:
        problems.append(
            "PUBLIC_BASE_URL is not set: Twilio needs the service's public address to fetch "
            "call instructions and send status updates. Set it to the address Twilio's "
            "webhooks are configured with, e.g. https://hotline.example.co.id.")
    elif not _is_web_address(settings.public_base_url):
        problems.append(
            "PUBLIC_BASE_URL is not a web address: it must start with https:// (or http://) "
            "and name the host, e.g. https://hotline.example.co.id.")
    if not settings.redis_url:
        problems.append(
            "REDIS_URL is not set: without it each process looks for the embedded Redis that "
            "only `callcenter dev` starts (a development server, Redis 6.2, not kept up to date "
            "with security fixes, and not shared between hosts). Set it to the Redis every web "
            "host, worker and scheduler share, e.g. redis://redis.internal:6379/0.")
    return problems


def _is_web_address(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def production_refusal(problems: list[str]) -> str:
    """The message a refused start prints (stderr): each problem on its own line, and the way
    to try the service without them."""
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return ("Refusing to start: CALLCENTER_DEBUG is off (a production start) and these "
            f"settings are not ready:\n{lines}\n"
            "To try the service on this machine instead, run `callcenter dev` (debug on).")


def _parse(name: str, parse: Callable[[str], Any], raw: str) -> Any:
    try:
        return parse(raw)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"{name} is not valid: {exc}") from exc


_read: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def settings_of_this_environment() -> Settings:
    """:meth:`Settings.from_env` of this process's environment, read again only when it
    changed since the last call.

    A worker runs thousands of jobs in one environment; reading it (and the ``.env`` file)
    for each was a tenth of a callback job's own time. A test or a tool that changes the
    environment between jobs gets settings read from the new one.
    """
    global _read
    if _read is not None and _read[0] == tuple(os.environ.items()):
        return _read[1]
    current = Settings.from_env()
    _read = (tuple(os.environ.items()), current)  # after the .env file's variables came in
    return current
