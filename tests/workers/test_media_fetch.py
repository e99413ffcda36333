"""The media job sends the account's credentials to Twilio and fetches nothing elsewhere.

A real HTTP server on another port stands in for an attacker; the messages come in signed
through the service's real webhook, and a real RQ worker runs the job.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import select

from callcenter.config import DEV_ACCOUNT_SID, Settings
from callcenter.models import Contact, Document
from callcenter.tickets import timeline
from tests.factories import BUDI_PHONE, make_customer
from tests.support.twilio_client import sign
from workers.media import on_twilio_media_cdn, takes_credentials

MEDIA_PATH = f"/2010-04-01/Accounts/{DEV_ACCOUNT_SID}/Messages/MM{'1' * 32}/Media/ME{'2' * 32}"


class Recorder:
    """A real HTTP server that records every request (path, Authorization header); it serves
    a picture, or redirects everything to ``redirect_to`` when that is set."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.redirect_to: str | None = None
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.requests.append((self.path, self.headers.get("Authorization")))
                if recorder.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", recorder.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"\x89PNG\r\n\x1a\n stolen"
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def attacker() -> Iterator[Recorder]:
    with Recorder() as server:
        yield server


def _whatsapp_with_media(hotline, media_url: str) -> None:
    """A signed inbound WhatsApp message whose MediaUrl0 is ``media_url``."""
    path = "/twilio/messaging/incoming"
    params = {"MessageSid": "MM" + "1" * 32, "AccountSid": DEV_ACCOUNT_SID,
              "From": "whatsapp:" + BUDI_PHONE, "To": "whatsapp:+622150001234",
              "Body": "Ini KTP saya", "NumMedia": "1", "MediaUrl0": media_url,
              "MediaContentType0": "image/png"}
    answer = requests.post(hotline.live.url + path, data=params, timeout=10,
                           headers={"X-Twilio-Signature": sign(hotline.live.url + path, params)})
    assert answer.status_code == 200


def _not_kept_labels(session) -> list[str]:
    session.expire_all()
    contact = session.scalars(select(Contact).where(Contact.direction == "inbound")).one()
    ticket = timeline.load_ticket(session, contact.ticket.number)
    return [e.label for e in timeline.timeline(session, ticket) if e.kind == "media"]


def test_a_media_url_on_another_host_is_never_contacted(hotline, session, attacker):
    make_customer(session)
    _whatsapp_with_media(hotline, attacker.url + MEDIA_PATH)
    hotline.run_jobs()
    assert attacker.requests == []  # no request at all, so no credentials either
    assert session.scalars(select(Document)).all() == []
    labels = _not_kept_labels(session)
    assert labels == ["Attachment not kept: 127.0.0.1 is not a Twilio media address; "
                      "nothing was fetched"]


def test_a_redirect_from_twilio_to_another_host_is_not_followed(hotline, session, attacker,
                                                                monkeypatch):
    """Twilio's answer redirects to its media CDN; a redirect anywhere else is refused."""
    with Recorder() as twilio_api:
        twilio_api.redirect_to = attacker.url + "/collect"
        monkeypatch.setenv("TWILIO_API_URL", twilio_api.url)  # the job reads it
        make_customer(session)
        _whatsapp_with_media(hotline, twilio_api.url + MEDIA_PATH)
        hotline.run_jobs()
    assert [path for path, _auth in twilio_api.requests] == [MEDIA_PATH]
    assert twilio_api.requests[0][1].startswith("Basic ")  # Twilio itself gets the credentials
    assert attacker.requests == []
    assert session.scalars(select(Document)).all() == []
    assert _not_kept_labels(session) == [
        "Attachment not kept: 127.0.0.1 is not a Twilio media address; nothing was fetched"]


def test_media_from_twilio_is_still_kept(hotline, session):
    """The simulator serves MediaUrl on TWILIO_API_URL, as Twilio does on api.twilio.com."""
    make_customer(session)
    photo = b"\x89PNG\r\n\x1a\n" + b"1" * 50
    hotline.sim.send_sms(from_="whatsapp:" + BUDI_PHONE, body="KTP", media=[("image/png", photo)])
    hotline.run_jobs()
    session.expire_all()
    assert session.scalars(select(Document)).one().data == photo
    assert _not_kept_labels(session) == []


@pytest.mark.parametrize(("url", "expected"), [
    (f"https://api.twilio.com{MEDIA_PATH}", True),
    (f"https://api.twilio.com:443{MEDIA_PATH}", True),
    (f"http://api.twilio.com{MEDIA_PATH}", False),  # never in clear
    (f"https://api.twilio.com.attacker.test{MEDIA_PATH}", False),
    (f"https://attacker.test{MEDIA_PATH}", False),
    (f"https://api.twilio.com{MEDIA_PATH.replace(DEV_ACCOUNT_SID, 'AC' + '9' * 32)}", False),
    ("https://api.twilio.com/2010-04-01/Accounts.json", False),  # not a media resource
    (f"https://user@attacker.test{MEDIA_PATH}", False),
])
def test_only_our_accounts_media_on_twilios_api_takes_the_credentials(url, expected):
    current = replace(Settings(), twilio_account_sid=DEV_ACCOUNT_SID)
    assert takes_credentials(current, url) is expected


@pytest.mark.parametrize(("url", "expected"), [
    ("https://media.twiliocdn.com/AC123/abc?x-amz-security-token=t", True),
    ("https://mms.twiliocdn.com/AC123/abc", True),
    ("http://media.twiliocdn.com/AC123/abc", False),
    ("https://twiliocdn.com.attacker.test/x", False),
    ("https://attacker.test/media.twiliocdn.com/x", False),
])
def test_redirects_are_followed_only_to_twilios_media_cdn(url, expected):
    assert on_twilio_media_cdn(url) is expected
