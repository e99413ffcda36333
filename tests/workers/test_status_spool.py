"""The status spool: call status callbacks kept in Redis while the database was down.

The fault itself (a real outage) is in ``tests/faults/test_database_outage.py``; these pin
what the drain does with what it finds: an event applied once however often it was kept,
and an entry nobody signed never applied.
"""

from __future__ import annotations

from sqlalchemy import select

from callcenter.models import Callback, Contact
from tests.e2e.test_inbound_hotline import _verify
from tests.factories import BUDI_PHONE, make_customer
from tests.support.twilio_client import sign
from workers.call_status import dead_key, drain_spool, spool, spool_key


def _dropped_call(hotline, session) -> tuple[str, dict[str, list[str]]]:
    """Budi is verified and hangs up; the status callback is not delivered (kept by the
    test instead). Returns the status URL and its parameters as Twilio sends them."""
    make_customer(session)
    hotline.sim.status_url = None
    call = hotline.call(BUDI_PHONE)
    _verify(call)
    call.hang_up()
    call.wait_ended()
    url = hotline.live.url + "/twilio/voice/status"
    params = {"AccountSid": hotline.settings.twilio_account_sid, "CallSid": call.sid,
              "CallStatus": "completed", "CallDuration": "42", "Direction": "inbound",
              "From": BUDI_PHONE, "To": "+622150001234", "SequenceNumber": "0"}
    return url, {name: [value] for name, value in params.items()}


def _flat(params: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in params.items()}


def test_an_event_kept_twice_is_applied_once(hotline, session, redis_conn):
    """Twilio's retry reached us twice during the outage: one contact closed, one
    dropped-call callback (P2.2c), the spool emptied."""
    url, params = _dropped_call(hotline, session)
    signature = sign(url, _flat(params), hotline.settings.twilio_auth_token)
    assert spool(hotline.settings, url, params, signature)
    assert spool(hotline.settings, url, params, signature)
    drained = drain_spool(hotline.settings)
    assert (drained.applied, drained.dead, drained.left) == (2, 0, 0)
    session.expire_all()
    contact = session.scalars(select(Contact).where(Contact.direction == "inbound")).one()
    assert contact.status == "completed" and contact.duration_s == 42
    assert [c.reason for c in session.scalars(select(Callback))] == ["dropped_call"]
    assert redis_conn.llen(spool_key(hotline.settings)) == 0


def test_an_entry_nobody_signed_is_set_aside_and_changes_nothing(hotline, session, redis_conn):
    """Someone with access to Redis writes a "completed" into the spool: its signature does
    not hold, so the call stays as it was and the entry waits for a person in the dead list."""
    url, params = _dropped_call(hotline, session)
    forged = sign(url, _flat(params), "not-the-auth-token")
    assert spool(hotline.settings, url, params, forged)
    drained = drain_spool(hotline.settings)
    assert (drained.applied, drained.dead, drained.left) == (0, 1, 0)
    session.expire_all()
    contact = session.scalars(select(Contact).where(Contact.direction == "inbound")).one()
    assert contact.status == "in-progress"
    assert session.scalars(select(Callback)).all() == []
    assert redis_conn.llen(dead_key(hotline.settings)) == 1
