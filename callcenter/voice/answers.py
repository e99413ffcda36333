"""Answers to general questions from the customer's own data (P1.4 a–e).

Each answer comes with a one-line summary that the closing repeats (P1.8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from callcenter.content import Content, Speech
from callcenter.models import Customer

TOPICS = ("how_to_pay", "product", "bill", "how_to_apply", "status")
_LOCALES = {"id": "id_ID", "en": "en_GB"}


@dataclass(frozen=True)
class Answer:
    topic: str
    speech: list[Speech]
    summary: str


_CUSTOMERS = Customer.__table__
# What an answer reads of the customer, on the table (Core): the ORM's entity load of all
# fifteen columns cost about as much CPU again as the statement, on every answered question.
FACTS = ("id", "name", "phone", "product", "application_status", "amount_due", "due_date",
         "va_bank", "va_number")
_FACTS = select(*(_CUSTOMERS.c[name] for name in FACTS)).where(
    _CUSTOMERS.c.id == bindparam("customer_id"))


def customer_facts(session: Session, customer_id: int) -> Any | None:
    """The customer's columns an answer speaks (a row, as :func:`answer` reads a Customer),
    and their phone for the SMS of an email hand-off; None for no such customer."""
    return session.execute(_FACTS, {"customer_id": customer_id}).first()


def rupiah(amount: int, lang: str) -> str:
    """Whole Rupiah as spoken: ``1.250.000`` in Indonesian, ``1,250,000`` in English."""
    return format_decimal(amount, locale=_LOCALES[lang])


def long_date(value, lang: str) -> str:  # type: ignore[no-untyped-def]
    return format_date(value, format="long", locale=_LOCALES[lang])


def answer(content: Content, lang: str, topic: str, customer: Customer | Any) -> Answer:
    """The spoken answer to ``topic`` for ``customer``, and its summary line."""
    fields = _fields(content, lang, customer)
    if topic == "how_to_pay":
        key = "answer_how_to_pay" if customer.va_number and customer.va_bank else (
            "answer_how_to_pay_missing"
        )
        speech = content.speech(lang, key, **fields)
    elif topic == "product":
        text = content.lookup(lang, "products", customer.product) or content.text(
            lang, "answer_product_generic"
        )
        speech = [Speech(text)]
    elif topic == "bill":
        key = "answer_bill" if customer.amount_due and customer.due_date else "answer_bill_missing"
        speech = content.speech(lang, key, **fields)
    elif topic == "how_to_apply":
        speech = content.speech(lang, "answer_how_to_apply")
    elif topic == "status":
        speech = content.speech(lang, "answer_status", **fields)
    else:
        raise ValueError(f"unknown topic {topic!r}")
    summary = content.raw(lang, "summary")[topic].format(**fields)
    return Answer(topic=topic, speech=speech, summary=summary)


def _fields(content: Content, lang: str, customer: Customer | Any) -> dict[str, str]:
    status_text = content.lookup(lang, "statuses", customer.application_status)
    return {
        "name": customer.name,
        "bank": customer.va_bank or "",
        "va": customer.va_number or "",
        "amount": rupiah(customer.amount_due or 0, lang),
        "due_date": long_date(customer.due_date, lang) if customer.due_date else "",
        "product": customer.product or "Cankul",
        "status": status_text or (customer.application_status or "-"),
    }
