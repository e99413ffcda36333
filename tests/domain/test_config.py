"""Settings: every variable the README documents is read, each default is stated once (in the
dataclass), and the dev run's children inherit the environment with the dev defaults."""

from __future__ import annotations

import re
from dataclasses import field, fields, make_dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from callcenter.config import (
    DEV_AUTH_TOKEN,
    DEV_SECRET_KEY,
    PROJECT_ROOT,
    ConfigError,
    Settings,
    child_environment,
    production_problems,
)

# One value per documented variable, and every setting it changes (with its parsing).
SAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "DATABASE_URL": ("postgres://cc@db.internal/cc",
                     {"database_url": "postgresql+psycopg://cc@db.internal/cc"}),
    "REDIS_URL": ("redis://cache.internal:6379/2", {"redis_url": "redis://cache.internal:6379/2"}),
    "TWILIO_ACCOUNT_SID": ("AC" + "1" * 32, {"twilio_account_sid": "AC" + "1" * 32}),
    "TWILIO_AUTH_TOKEN": ("a-real-token", {"twilio_auth_token": "a-real-token"}),
    "TWILIO_PHONE_NUMBER": ("+622150009999", {"twilio_phone_number": "+622150009999"}),
    "TWILIO_API_URL": ("http://127.0.0.1:8081/", {"twilio_api_url": "http://127.0.0.1:8081"}),
    "PUBLIC_BASE_URL": ("https://hotline.cankul.co.id/",
                        {"public_base_url": "https://hotline.cankul.co.id"}),
    "CALLCENTER_TZ": ("Asia/Makassar", {"timezone": "Asia/Makassar"}),
    "CALLING_HOURS": ("09:00-17:30", {"calling_hours": (time(9), time(17, 30))}),
    "API_TOKEN": ("old-token, new-token", {"api_tokens": ("old-token", "new-token")}),
    "SECRET_KEY": ("a-real-secret", {"secret_key": "a-real-secret"}),
    "EMAIL_WEBHOOK_AUTH": ("mail:pass", {"email_webhook_auth": "mail:pass"}),
    "SMTP_URL": ("smtp://mail.internal:587", {"smtp_url": "smtp://mail.internal:587"}),
    "CALLCENTER_DEBUG": ("yes", {"debug": True}),
    "CALLCENTER_SUPPORT_EMAIL": ("halo@pinjam.co.id", {"support_email": "halo@pinjam.co.id",
                                                       "email_domain": "pinjam.co.id"}),
    "CALLCENTER_QUEUE_MAX_WAIT": ("45", {"queue_max_wait_s": 45}),
    "CALLCENTER_CONTENT": ("/srv/content/ivr.json",
                           {"content_path": Path("/srv/content/ivr.json")}),
    "CALLCENTER_RQ_PREFIX": ("cankul-a:", {"queue_prefix": "cankul-a:"}),
    "CALLCENTER_INSTANCE": ("/srv/cc", {"instance_dir": Path("/srv/cc"),
                                        "database_url": "sqlite:////srv/cc/callcenter.sqlite3"}),
    "CALLBACK_MAX_ATTEMPTS": ("6", {"callback_max_attempts": 6}),
    "CALLBACK_DAILY_CAP": ("2", {"callback_daily_cap": 2}),
    "CALLBACK_RETRY_MINUTES": ("5,15", {"callback_retry_minutes": (5, 15)}),
    "CALLBACK_DROPPED_DELAY": ("30", {"dropped_call_delay_s": 30}),
    "CALLBACK_NO_RESPONSE_HOURS": ("48", {"no_response_hours": 48}),
    "CALLBACK_DIAL_RATE": ("0.5", {"dial_rate_per_s": 0.5}),
    "EMAIL_DOMAIN": ("mail.cankul.co.id", {"email_domain": "mail.cankul.co.id"}),
    "EMAIL_MAX_BYTES": ("1000000", {"email_max_bytes": 1_000_000}),
    "EMAIL_MAX_ATTACHMENT_BYTES": ("500000", {"email_max_attachment_bytes": 500_000}),
    "COMPLAINT_RULES": ("POJK18_2018", {"complaint_rules": "pojk18_2018"}),
    "COLLECTIVE_LEAVE_STOPS_CLOCK": ("true", {"collective_leave_stops_clock": True}),
    "COMPANY_DAYS_OFF": ("2026-12-31,2026-12-24",
                         {"company_days_off": (date(2026, 12, 24), date(2026, 12, 31))}),
    "COMPLAINT_NEARING_WORKING_DAYS": ("2", {"complaint_nearing_working_days": 2}),
    "LENDER_NAME": ("PT Cankul Finansial", {"lender_name": "PT Cankul Finansial"}),
    "RETENTION_DAYS": ("30", {"retention_days": 30}),
    "SUPERVISOR_EMAILS": ("dewi@cankul.co.id, ,adi@cankul.co.id",
                          {"supervisor_emails": ("dewi@cankul.co.id", "adi@cankul.co.id")}),
    "TWILIO_API_KEY_SID": ("SK" + "2" * 32, {"twilio_api_key_sid": "SK" + "2" * 32}),
    "TWILIO_API_KEY_SECRET": ("key-secret", {"twilio_api_key_secret": "key-secret"}),
    "TWILIO_TWIML_APP_SID": ("AP" + "3" * 32, {"twilio_twiml_app_sid": "AP" + "3" * 32}),
    "CONSOLE_SESSION_HOURS": ("8", {"console_session_hours": 8}),
    "TRUSTED_PROXY_HOPS": ("1", {"trusted_proxy_hops": 1}),
    "METRICS_TOKEN": ("scrape-1,scrape-2", {"metrics_tokens": ("scrape-1", "scrape-2")}),
    "HEARTBEAT_LIMIT": ("45", {"heartbeat_limit_s": 45}),
    "WRAP_UP_SECONDS": ("120", {"wrap_up_s": 120}),
    "LOG_FORMAT": ("JSON", {"log_format": "json"}),
    "PROMETHEUS_MULTIPROC_DIR": ("/run/callcenter-metrics",
                                 {"prometheus_multiproc_dir": Path("/run/callcenter-metrics")}),
}


def documented_variables() -> set[str]:
    """The variables README's "Configuration" section names (its list and its table)."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([A-Z][A-Z0-9_]{2,})`", section))


def read_variables() -> set[str]:
    return {item.metadata["env"] for item in fields(Settings) if "env" in item.metadata}


def _values(settings: Settings) -> dict[str, Any]:
    return {item.name: getattr(settings, item.name) for item in fields(settings)}


def test_every_documented_variable_is_read_and_every_read_one_documented():
    assert documented_variables() == read_variables()
    assert set(SAMPLES) == read_variables()  # a new variable gets a sample below


@pytest.mark.parametrize("variable", sorted(SAMPLES))
def test_each_variable_sets_its_setting_and_nothing_else(variable: str):
    raw, expected = SAMPLES[variable]
    defaults = _values(Settings.from_env({}))
    read = _values(Settings.from_env({variable: raw}))
    changed = {name: value for name, value in read.items() if value != defaults[name]}
    assert changed == expected


@pytest.mark.parametrize("variable", sorted(SAMPLES))
def test_an_empty_variable_means_the_default(variable: str):
    assert Settings.from_env({variable: ""}) == Settings.from_env({})


def test_without_variables_the_settings_are_the_dataclass_defaults():
    assert Settings.from_env({}) == Settings()
    assert Settings().database_url == f"sqlite:///{PROJECT_ROOT / 'instance'}/callcenter.sqlite3"
    assert Settings().email_domain == "cankul.co.id"  # the support address's domain


class _Marker:
    """A default nobody would write: it must come through ``from_env`` untouched."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<default of {self.name}>"


def test_each_default_is_stated_once_in_the_dataclass():
    """Change every read setting's default in a subclass: ``from_env`` of an empty
    environment must give the subclass's defaults, so no default is repeated where the
    variables are read."""
    changed = [(item.name, item.type, field(default=_Marker(item.name), metadata=item.metadata))
               for item in fields(Settings) if "env" in item.metadata]
    assert len(changed) == len(SAMPLES)
    probe = make_dataclass("Probe", changed, bases=(Settings,), frozen=True)
    read = probe.from_env({})
    assert {item.name: getattr(read, item.name) for item in fields(Settings)
            if "env" in item.metadata} == {name: spec.default for name, _type, spec in changed}


def test_a_bad_number_names_its_variable():
    with pytest.raises(ConfigError, match="CALLBACK_MAX_ATTEMPTS"):
        Settings.from_env({"CALLBACK_MAX_ATTEMPTS": "four"})


def test_the_dev_run_children_keep_what_is_set_and_get_the_dev_defaults_for_the_rest(
        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SMTP_URL", "smtp://my-own-mail:25")
    monkeypatch.setenv("PUBLIC_BASE_URL", "")  # empty: read as unset, so the dev value
    monkeypatch.delenv("CALLING_HOURS", raising=False)
    monkeypatch.setenv("CALLCENTER_SOMETHING_ELSE", "kept")
    env = child_environment(
        {"SMTP_URL": "smtp://127.0.0.1:8025", "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
         "CALLING_HOURS": "00:00-23:59"},
        {"PYTHONUNBUFFERED": "1"})
    assert env["SMTP_URL"] == "smtp://my-own-mail:25"
    assert env["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
    assert env["CALLING_HOURS"] == "00:00-23:59"
    assert env["PYTHONUNBUFFERED"] == "1" and env["CALLCENTER_SOMETHING_ELSE"] == "kept"
    assert Settings.from_env(env).smtp_url == "smtp://my-own-mail:25"


# --- Production settings (CONTRACT "Additions"; issue 12 item 1) ----------------------------
GOOD = {"SECRET_KEY": "a-long-random-secret", "TWILIO_AUTH_TOKEN": "the-accounts-auth-token",
        "PUBLIC_BASE_URL": "https://hotline.cankul.co.id", "REDIS_URL": "redis://redis:6379/0"}


@pytest.mark.parametrize(("variable", "value"), [
    ("SECRET_KEY", ""), ("SECRET_KEY", DEV_SECRET_KEY),
    ("TWILIO_AUTH_TOKEN", ""), ("TWILIO_AUTH_TOKEN", DEV_AUTH_TOKEN),
    ("PUBLIC_BASE_URL", ""), ("PUBLIC_BASE_URL", "hotline.cankul.co.id"),
    ("PUBLIC_BASE_URL", "https://"), ("REDIS_URL", ""),
])
def test_a_production_start_names_the_one_setting_that_is_not_ready(variable: str, value: str):
    settings = Settings.from_env({**GOOD, variable: value})
    problems = production_problems(settings)
    assert len(problems) == 1 and problems[0].startswith(variable)
    with pytest.raises(ConfigError) as refused:
        settings.check_for_production()
    assert variable in str(refused.value) and "callcenter dev" in str(refused.value)


def test_every_setting_that_is_not_ready_is_named_at_once_and_no_secret_is_repeated():
    settings = Settings.from_env({"SECRET_KEY": DEV_SECRET_KEY})
    problems = production_problems(settings)
    assert [p.split()[0] for p in problems] == ["SECRET_KEY", "TWILIO_AUTH_TOKEN",
                                               "PUBLIC_BASE_URL", "REDIS_URL"]
    with pytest.raises(ConfigError) as refused:
        settings.check_for_production()
    message = str(refused.value)
    assert all(problem in message for problem in problems)
    assert DEV_SECRET_KEY not in message and DEV_AUTH_TOKEN not in message


def test_production_settings_and_debug_runs_start():
    assert production_problems(Settings.from_env(GOOD)) == []
    Settings.from_env(GOOD).check_for_production()
    debug = Settings.from_env({"CALLCENTER_DEBUG": "1"})  # `callcenter dev`: dev secrets
    assert production_problems(debug) == []
    debug.check_for_production()


def test_a_worker_reads_its_environment_again_only_when_it_changed(monkeypatch):
    """Jobs take settings from this process's environment: the same environment gives the
    same settings without reading it again, a changed one is read anew."""
    from callcenter.config import settings_of_this_environment

    monkeypatch.setenv("CALLBACK_DAILY_CAP", "2")
    first = settings_of_this_environment()
    assert first.callback_daily_cap == 2
    assert settings_of_this_environment() is first
    monkeypatch.setenv("CALLBACK_DAILY_CAP", "4")
    changed = settings_of_this_environment()
    assert changed.callback_daily_cap == 4 and changed is not first
