"""Breach prevention: the supervisors' morning email lists late and nearly-due complaints."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.config import Settings
from callcenter.tickets import lifecycle
from tests.factories import make_customer
from tests.support.smtp import mail_sink_fixture  # noqa: F401 (fixture)
from workers.sweeps import daily_digest

JAKARTA = ZoneInfo("Asia/Jakarta")
MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=JAKARTA)


def test_the_digest_lists_late_and_nearing_tickets_once_a_day(session, mail_sink, redis_conn):
    customer = make_customer(session)
    late = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id,
                               now=MONDAY_9 - timedelta(days=14))  # 5 working days: past
    soon = lifecycle.open_ticket(session, channel="voice", customer_id=customer.id,
                               now=MONDAY_9 - timedelta(days=6))  # due Tuesday 1 Dec
    calm = lifecycle.open_ticket(session, channel="email", customer_id=customer.id,
                               now=MONDAY_9)
    session.commit()
    settings = replace(Settings.from_env(), supervisor_emails=("spv@cankul.co.id",))
    assert daily_digest(settings, now=MONDAY_9) is True
    assert daily_digest(settings, now=MONDAY_9 + timedelta(hours=1)) is False  # once a day
    mail = mail_sink.wait_for(1)[0]
    body = mail.get_content()
    assert mail["To"] == "spv@cankul.co.id" and "1 lewat batas waktu" in mail["Subject"]
    assert f"{late.number}" in body and "terlambat" in body
    assert f"{soon.number}" in body and "sisa 1 hari kerja" in body
    assert calm.number not in body
    assert "Budi" not in body and "+62" not in body  # numbers and dates, no personal data


def test_no_digest_before_eight_or_without_recipients(session, mail_sink, redis_conn):
    settings = Settings.from_env()
    assert daily_digest(settings, now=MONDAY_9) is False  # nobody configured
    early = replace(settings, supervisor_emails=("spv@cankul.co.id",))
    assert daily_digest(early, now=MONDAY_9.replace(hour=7)) is False
    assert mail_sink.messages == []
