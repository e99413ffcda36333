"""Social channel rules that need no HTTP."""

from __future__ import annotations


def test_message_status_never_moves_backwards():
    from callcenter.channels.social import status_moves_forward

    assert status_moves_forward("queued", "delivered")
    assert not status_moves_forward("delivered", "sent")
    assert status_moves_forward("delivered", "read")
    assert status_moves_forward("sent", "failed")


def test_a_template_reply_by_sms_carries_the_customers_data_not_placeholders(session):
    """P3.3: an approved template is filled in; one written for email is not sent by SMS."""
    import pytest

    from callcenter.channels import social, templates
    from callcenter.people import users
    from callcenter.tickets import lifecycle
    from tests.factories import make_customer

    customer = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="sms", customer_id=customer.id)
    author = users.create_user(session, "sari", "long enough password", "agent")
    qa = users.create_user(session, "qori", "long enough password", "qa")
    sms = templates.create_draft(session, author, key="hello", language="id", channel="sms",
                                 body="Halo {name}, tiket {ticket} kami proses.")
    email = templates.create_draft(session, author, key="mail", language="id", channel="email",
                                   subject="Tiket {ticket}", body="Halo {name}.")
    templates.approve(session, qa, sms, read=templates.digest(sms))
    templates.approve(session, qa, email, read=templates.digest(email))

    message = social.queue_reply(session, ticket, channel="sms", template=sms)
    assert message.body == f"Halo Budi Santoso, tiket {ticket.number} kami proses."
    with pytest.raises(ValueError, match="is for Email, not SMS"):
        social.queue_reply(session, ticket, channel="sms", template=email)
