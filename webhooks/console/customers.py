"""Console: finding a customer (the search box on every page) and the customer's page.

Thin over :mod:`callcenter.people.customer_search` (the same search as ``GET
/api/customers?q=``) and :mod:`callcenter.people.customer_file` (one customer's data,
tickets, contacts, callbacks and documents).

Masking follows the ticket pages: a list glanced at by many people shows names as "Budi S."
and phone numbers and Order IDs masked, with one audit row per search
(``search_customers``: how the query was read and which customers were listed, never the
query); the full name, phone, email and Order ID come on the customer's page, whose every
view is audited per customer (``view_customer``), to the same roles as a ticket's page. A
search that finds exactly one customer opens their page at once. Customer pages are
addressed by the row id, never the Order ID or phone, which would land in access logs and
browser histories.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from callcenter.people import customer_file, customer_search, users
from callcenter.phones import mask_phone
from callcenter.tickets.queue import mask_name
from webhooks.console import auth
from webhooks.console.blueprint import bp
from webhooks.context import db
from webhooks.i18n import translate

SEARCH_ROLES = ("agent", "supervisor", "qa")  # those who open tickets' pages (and admins)


def _masking() -> dict[str, Any]:
    return {"mask_name": mask_name, "mask_phone": mask_phone,
            "mask_order_id": customer_search.mask_order_id}


@bp.app_context_processor
def search_box() -> dict[str, Any]:
    """Whether the top bar offers the customer search, and the query it holds."""
    user = g.get("user")
    shown = user is not None and users.has_role(user, *SEARCH_ROLES)
    query = request.args.get("q", "") if request.endpoint == "console.customer_search" else ""
    return {"customer_search_box": shown, "customer_query": query[:200]}


@bp.get("/customers", endpoint="customer_search")
@auth.login_required(*SEARCH_ROLES)
def search_page() -> Response | tuple[str, int] | str:
    """Results of the search box: masked, best match first; one match opens the customer."""
    session = db()
    query = request.args.get("q")
    try:
        found = customer_search.search(session, query)
    except customer_search.BadQuery as exc:
        html = render_template("console/customers/results.html", found=None,
                               problem=translate(exc.args[0]), **_masking())
        return html, 400
    auth.record("search_customers", "customers", found.audit_detail())
    if len(found.matches) == 1:
        session.commit()
        return redirect(url_for("console.customer_page",
                                customer_id=found.matches[0].customer.id), code=303)
    html = render_template("console/customers/results.html", found=found, problem=None,
                           limit=customer_search.LIMIT, **_masking())
    session.commit()
    return html


@bp.get("/customers/<int:customer_id>", endpoint="customer_page")
@auth.login_required(*SEARCH_ROLES)
def customer_page(customer_id: int) -> tuple[str, int] | str:
    """Everything about one customer: what the hotline answers from, every ticket and
    contact on every channel, the callbacks owed, the documents."""
    session = db()
    found = customer_file.load(session, customer_id) if customer_id < 2**31 else None
    if found is None:
        return render_template("console/customers/not_found.html"), 404
    auth.record("view_customer", f"customer:{found.customer.id}")
    html = render_template("console/customers/customer.html", file=found,
                           customer=found.customer)
    session.commit()
    return html
