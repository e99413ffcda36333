"""Customer search in the JSON API: ``GET /api/customers?q=`` (bearer token; CONTRACT
"Additions" → Customer search), the same :func:`callcenter.people.customer_search.search` as
the console's search box.

Every search is audited like every read (``search_customers``): which kinds of query were
tried and which customers were returned, never the query itself (it is personal data). An
empty, too short or too long ``q`` is a 400 saying what to send.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request

from callcenter import audit
from callcenter.people import customer_search
from callcenter.tickets.serialize import iso
from webhooks.api.auth import require_token
from webhooks.context import db, settings

bp = Blueprint("api_customers", __name__, url_prefix="/api/customers")


@bp.get("")
@require_token
def customers() -> Response:
    """At most 50 customers, best match first, each with their tickets (newest first)."""
    session = db()
    try:
        found = customer_search.search(session, request.args.get("q"))
    except customer_search.BadQuery as exc:
        abort(400, f"q: {exc}")
    audit.record(session, g.actor, "search_customers", "customers", found.audit_detail())
    tz = settings().timezone
    body = {"customers": [_customer_json(match, tz) for match in found.matches]}
    session.commit()
    return jsonify(body)


def _customer_json(match: customer_search.Match, tz: str) -> dict[str, Any]:
    customer = match.customer
    return {
        "order_id": customer.order_id,
        "name": customer.name,
        "phone": customer.phone,
        "email": customer.email,
        "tickets": [{"number": t.number, "status": t.status, "channel": t.channel,
                     "opened_at": iso(t.opened_at, tz)} for t in match.tickets],
    }
