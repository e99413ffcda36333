"""A resolved ticket's page offers no actions: nothing more is done or sent on it (the
actions refuse a resolved ticket anyway; the page no longer invites them)."""

from __future__ import annotations

import html

from callcenter.tickets import lifecycle
from tests.console.conftest import post_form
from tests.factories import make_customer

FORMS = ("/reply", "/callback", "/documents", "/assign", "/resolve", "/extension")


def test_a_resolved_ticket_shows_no_action_forms(console, session, settings):
    budi = make_customer(session)
    ticket = lifecycle.open_ticket(session, channel="voice", customer_id=budi.id,
                                   settings=settings)
    session.commit()
    url = f"/console/tickets/{ticket.number}"
    client = console.signed_in("dewi", "supervisor")
    before = client.get(url).get_data(as_text=True)
    assert all(f'action="{url}{form}"' in before for form in ("/reply", "/resolve"))
    done = post_form(client, url, f"{url}/resolve", {"summary": "Sudah dijelaskan."},
                     follow_redirects=True)
    page = html.unescape(done.get_data(as_text=True))
    assert not [form for form in FORMS if f'action="{url}{form}"' in page]
    assert "The ticket is resolved: nothing more is done or sent on it." in page
