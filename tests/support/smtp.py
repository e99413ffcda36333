"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, random port, recording what arrives.

``mail_sink`` (fixture; import ``mail_sink_fixture``) starts it and points ``SMTP_URL`` at it
(jobs read settings from the environment). ``sink.refuse = "550 5.1.1 no such user"`` makes
it refuse the next messages.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support.waiting import eventually


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MailSink:
    """Handler and server in one: ``messages`` are the parsed emails received, in order."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: str | None = None
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse
        parsed = message_from_bytes(envelope.content.replace(b"\r\n", b"\n"),
                                    policy=policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        eventually(lambda: len(self.messages) >= count, timeout=timeout)
        return self.messages


@pytest.fixture(name="mail_sink")
def mail_sink_fixture(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[MailSink]:
    sink = MailSink()
    sink.start()
    monkeypatch.setenv("SMTP_URL", sink.url)
    try:
        yield sink
    finally:
        sink.stop()


# --- The provider's side: SendGrid Inbound Parse posts to /email/inbound -------------------

WEBHOOK_AUTH = ("sendgrid", "parse-secret-for-tests")


@pytest.fixture(name="email_app")
def email_app_fixture(mail_sink: MailSink, session: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The service, configured after the sink so SMTP_URL and EMAIL_WEBHOOK_AUTH are seen."""
    from callcenter.config import Settings
    from webhooks.app import create_app

    monkeypatch.setenv("EMAIL_WEBHOOK_AUTH", ":".join(WEBHOOK_AUTH))
    return create_app(Settings.from_env())


def inbound_form(*, sender: str = "Budi Santoso <budi@example.com>",
                 subject: str = "Tagihan saya salah", text: str = "Halo, tagihan saya salah.",
                 message_id: str = "<cust-1@mail.example.com>", in_reply_to: str | None = None,
                 references: str | None = None, html: str | None = None,
                 extra_headers: str = "") -> dict[str, Any]:
    """The multipart fields SendGrid Inbound Parse posts for one email."""
    headers = [f"From: {sender}", "To: cs@cankul.co.id", f"Subject: {subject}",
               f"Message-ID: {message_id}", "Date: Wed, 25 Nov 2026 09:00:00 +0700"]
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to}")
    if references:
        headers.append(f"References: {references}")
    form: dict[str, Any] = {
        "from": sender, "to": "cs@cankul.co.id", "subject": subject, "text": text,
        "headers": "\n".join(headers) + "\n" + extra_headers,
        "envelope": '{"to": ["cs@cankul.co.id"], "from": "budi@example.com"}',
        "charsets": '{"to": "UTF-8", "subject": "UTF-8", "text": "UTF-8", "from": "UTF-8"}',
        "SPF": "pass", "attachments": "0",
    }
    if html is not None:
        form["html"] = html
    return form


def post_email(client: Any, form: dict[str, Any], auth: tuple[str, str] | None = WEBHOOK_AUTH,
               ) -> Any:
    """POST the form as multipart. (Werkzeug's test client leaves the temporary file of a body
    over 500 KB open; this closes it once the answer is read.)"""
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path="/email/inbound", method="POST", data=form, auth=auth,
                             content_type="multipart/form-data")
    environ = builder.get_environ()
    try:
        answer = client.open(environ)
        answer.get_data()
        return answer
    finally:
        environ["wsgi.input"].close()
        builder.close()


def run_jobs(settings: Any) -> None:
    """The worker of ``callcenter worker`` in burst mode over the service's queues."""
    from workers.worker import run_worker

    run_worker(settings, burst=True)
