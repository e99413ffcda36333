"""Who is calling (P1.1): phone number and Order ID must belong to one customer.

The caller is never told which part did not match, and nothing about a customer is said
before both match; the name is then spoken only for the caller to confirm.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from callcenter.models import Customer
from callcenter.phones import try_e164


def keypad_form(order_id: str) -> str:
    """What a caller types for an Order ID: its digits (letters cannot be keyed reliably)."""
    return "".join(ch for ch in order_id if ch.isdigit())


# Built once (constructing a statement costs about as much as running it from SQLAlchemy's
# compiled cache): every call runs these at its first steps.
_CUSTOMER_BY_PHONE = select(Customer.id).where(Customer.phone == bindparam("phone")).limit(1)
_CUSTOMERS_OF_PHONE = select(Customer).where(Customer.phone == bindparam("phone"))
_CUSTOMERS = Customer.__table__
# The IVR's look-up on the table (Core): the caller needs only the id and the name, and the
# ORM's entity load cost about as much CPU again as the statement.
_KEYS_OF_PHONE = select(_CUSTOMERS.c.id, _CUSTOMERS.c.name, _CUSTOMERS.c.order_id).where(
    _CUSTOMERS.c.phone == bindparam("phone"))


def known_caller(session: Session, caller_id: str | None) -> bool:
    """Whether the caller ID belongs to some customer (then we skip asking for the phone)."""
    phone = try_e164(caller_id)
    if phone is None:
        return False
    return session.scalars(_CUSTOMER_BY_PHONE, {"phone": phone}).first() is not None


def only_customer_with_phone(session: Session, caller_id: str | None) -> int | None:
    """The id of the one customer whose registered phone ``caller_id`` is; None when there is
    none, or several (a caller ID identifies nobody for certain: never a verification)."""
    phone = try_e164(caller_id)
    if phone is None:
        return None
    found = session.scalars(select(Customer.id).where(Customer.phone == phone).limit(2)).all()
    return found[0] if len(found) == 1 else None


def match_customer(session: Session, phone: str | None, typed_order: str) -> Customer | None:
    """The customer owning both ``phone`` and the typed Order ID, else None."""
    e164 = try_e164(phone)
    typed = keypad_form(typed_order or "")
    if e164 is None or not typed:
        return None
    for customer in session.scalars(_CUSTOMERS_OF_PHONE, {"phone": e164}):
        if keypad_form(customer.order_id) == typed:
            return customer
    return None


def match_caller(session: Session, phone: str | None, typed_order: str) -> Any | None:
    """As :func:`match_customer`, for the IVR: the matching customer's ``id`` and ``name``
    (a row), else None."""
    e164 = try_e164(phone)
    typed = keypad_form(typed_order or "")
    if e164 is None or not typed:
        return None
    for row in session.execute(_KEYS_OF_PHONE, {"phone": e164}):
        if keypad_form(row.order_id) == typed:
            return row
    return None
