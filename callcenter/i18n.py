"""Words for people, marked for translation without Flask.

Staff read the console in Bahasa Indonesia first, English by choice; the catalogs live with the
web layer (``webhooks/translations``, Babel's gettext). The domain cannot call ``gettext`` (it
knows no request and imports no Flask), so it *marks* its words and the web layer translates
them into the reader's language:

- :func:`N_` marks a fixed English phrase (a msgid) and returns it unchanged;
  ``gettext(phrase)`` translates it where it is shown.
- :class:`Label` is a phrase with a context (``Label("ticket status", "Open")``): the same
  English word can need two Indonesian ones ("Open" status = *Terbuka*, "Open" button =
  *Buka*). Shown through ``pgettext(label.context, label.msgid)``.
- :class:`Msg` is a sentence with fields, for messages raised or returned by the domain
  (a refusal the agent can fix, a timeline line). It *is* a ``str`` holding the English
  sentence, so the JSON API, logs and ``str(exc)`` keep working unchanged; the web layer
  (:func:`webhooks.i18n.translate`) renders ``gettext(msg.msgid) % msg.fields`` instead::

      raise ActionRefused(Msg("Ticket %(number)s is resolved; nothing more is sent on it.",
                               number=ticket.number))

Fields use Python's ``%(name)s`` placeholders (Babel marks them ``python-format`` and the
catalog check keeps them in every translation). ``pybabel extract`` finds ``N_``, ``Label``
and ``Msg`` by name (``scripts/translations``), so every marked phrase and context must be
a literal (a variable is not extracted, and the catalog check fails).
"""

from __future__ import annotations

from typing import Any, NamedTuple

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
# Babel locales for dates and numbers: English as written in Indonesia and Britain (24-hour
# clock, day before month), as the IVR speaks dates (callcenter.voice.answers).
FORMAT_LOCALES = {"id": "id_ID", "en": "en_GB"}


def N_(msgid: str) -> str:
    """Mark a phrase for the catalogs; translated where it is shown."""
    return msgid


class Label(NamedTuple):
    """A short word or phrase for a code (a status, a channel…), with its context."""

    context: str
    msgid: str

    def __str__(self) -> str:
        return self.msgid


class Msg(str):
    """An English sentence with ``%(name)s`` fields, translatable later.

    Fields may themselves be :class:`Msg` or :class:`Label`: they are translated too.
    """

    msgid: str
    fields: dict[str, Any]

    def __new__(cls, msgid: str, /, **fields: Any) -> Msg:
        english = msgid % {k: str(v) for k, v in fields.items()} if fields else msgid
        text = super().__new__(cls, english)
        text.msgid = msgid
        text.fields = fields
        return text

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (RQ) keep msgid and fields
        return (_rebuild_msg, (self.msgid, self.fields))


def _rebuild_msg(msgid: str, fields: dict[str, Any]) -> Msg:
    return Msg(msgid, **fields)


def as_record(text: str) -> dict[str, Any]:
    """A message as JSON for a row (a reason stored on a contact): its msgid and fields, so
    it can be shown later in the reader's language (:func:`from_record`)."""
    if isinstance(text, Msg):
        return {"msgid": text.msgid, "fields": {k: str(v) for k, v in text.fields.items()}}
    return {"msgid": text, "fields": {}}


def from_record(record: Any) -> Msg:
    """The message :func:`as_record` stored; a plain string (older rows) shows as written."""
    if isinstance(record, dict) and isinstance(record.get("msgid"), str):
        return _rebuild_msg(record["msgid"], dict(record.get("fields") or {}))
    return _rebuild_msg(str(record), {})


def language_or_default(value: str | None) -> str:
    """A supported language code, Indonesian for anything else."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE
