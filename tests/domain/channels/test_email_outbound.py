"""Outgoing email: SMTP_URL forms (CONTRACT) and the headers of what we send (P3.5)."""

from __future__ import annotations

import pytest

from callcenter.channels.email_outbound import build_message, parse_smtp_url
from callcenter.config import ConfigError, Settings
from callcenter.models import OutboundEmail


def test_smtp_urls_plain_starttls_and_implicit_tls():
    plain = parse_smtp_url("smtp://mailer:p%40ss@mail.example.com:2525")
    assert (plain.host, plain.port, plain.implicit_tls) == ("mail.example.com", 2525, False)
    assert (plain.username, plain.password) == ("mailer", "p@ss")
    assert parse_smtp_url("smtp://mail.example.com").port == 587
    tls = parse_smtp_url("smtps://u:p@mail.example.com")
    assert (tls.port, tls.implicit_tls) == (465, True)
    for bad in (None, "", "http://mail.example.com", "smtp://", "smtp://h:notaport"):
        with pytest.raises(ConfigError):
            parse_smtp_url(bad)


def test_acknowledgements_are_marked_auto_replied_template_replies_are_not():
    settings = Settings(support_email="cs@cankul.co.id")
    ack = OutboundEmail(to_address="budi@example.com", subject="Re: x [Tiket 1000015]",
                        body="Halo\n", message_id="<t1.abc.def@cankul.co.id>",
                        in_reply_to="<c@x>", references="<a@x> <c@x>")
    message = build_message(settings, ack)
    assert message["Message-ID"] == "<t1.abc.def@cankul.co.id>"
    assert message["In-Reply-To"] == "<c@x>" and message["References"] == "<a@x> <c@x>"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["From"] == "Cankul Customer Service <cs@cankul.co.id>"
    ack.template_id = 7
    assert "Auto-Submitted" not in build_message(settings, ack)
