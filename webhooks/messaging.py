"""Twilio Messaging webhooks (SMS and WhatsApp). Agents' replies on those channels are the
JSON API's (webhooks/api/replies.py).

Signature first (403), then input (400); every MessageSid is taken in once, and Twilio's
retry gets the same auto-reply without a second write.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, abort, request
from twilio.twiml.messaging_response import MessagingResponse

from callcenter.channels import social
from callcenter.models import Contact
from callcenter.statuses import MessageStatus
from callcenter.voice import calls
from webhooks.context import content, db, settings
from webhooks.twilio_auth import twilio_signed
from workers import queues

bp = Blueprint("messaging", __name__)
log = logging.getLogger(__name__)
_MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")


def _message_sid() -> str:
    sid = request.form.get("MessageSid", "")
    if not _MESSAGE_SID.match(sid):
        abort(400, "MessageSid missing or malformed")
    return sid


@bp.post("/twilio/messaging/incoming")
@twilio_signed
def incoming() -> Response:
    """An SMS or WhatsApp message to the hotline: on the customer's ticket, answered with the
    ticket number (P3.5-like acknowledgement for the social channel)."""
    _message_sid()
    if not request.form.get("From"):
        abort(400, "From missing")
    session = db()
    query = social.status_query(session, settings(), content(), request.form.to_dict())
    if query is not None:
        if query.ticket is not None and social.find_message(session, _message_sid()) is None:
            channel, phone = social.split_address(request.form["From"])
            # Answered at once with the status: it waits for nobody in the inbox.
            session.add(Contact(ticket_id=query.ticket.id, channel=channel, direction="inbound",
                                external_id=_message_sid(), status=MessageStatus.REPLIED,
                                sender=phone, body=request.form.get("Body", "")[:4000]))
            session.commit()
        reply = MessagingResponse()
        reply.message(query.text)
        return Response(str(reply), mimetype="application/xml")
    inbound = social.take_in(session, settings(), request.form.to_dict())
    ticket = inbound.ticket
    text = content().text(ticket.language or "id", "message_ack", ticket=ticket.number)
    if not inbound.duplicate:
        session.add(Contact(ticket_id=ticket.id, channel=inbound.contact.channel,
                            direction="outbound", status=MessageStatus.REPLIED, body=text,
                            to_number=inbound.contact.sender))
    contact_id = inbound.contact.id
    session.commit()
    if not inbound.duplicate:
        for url, content_type in inbound.media:
            queues.enqueue_fetch_media(settings(), contact_id, url, content_type)
    reply = MessagingResponse()
    reply.message(text)
    return Response(str(reply), mimetype="application/xml")


@bp.post("/twilio/messaging/status")
@twilio_signed
def status() -> Response:
    """Delivery status of a message we sent (queued, sent, delivered, read, failed)."""
    sid = _message_sid()
    state = request.form.get("MessageStatus", "")
    session = db()
    if calls.first_time(session, f"message-status:{sid}:{state}"):
        contact = social.find_message(session, sid)
        if contact is not None and social.status_moves_forward(contact.status, state):
            contact.status = state[:30]
        session.commit()
    return Response(status=204)
