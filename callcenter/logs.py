"""Log set-up with personal data masked in every line (privacy, UU PDP).

Phone numbers are masked by pattern wherever they appear, in every form people write them
(``0812-3456-7890``, ``+62 812 3456 7890``, ``(021) 5000-1234``, ``62 812-3456-7890``), so a
careless ``%s`` of a form cannot leak one. Tracebacks attached to a record are masked too.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import phonenumbers

from callcenter.phones import DEFAULT_REGION

# Indonesian mobile numbers, digits optionally grouped by spaces, dots or dashes: caught even
# when phonenumbers does not know the range (test and newly allocated prefixes).
_MOBILE = re.compile(r"(?<![\w+])(?:\+?62|0)[ .-]?8(?:[ .-]?\d){7,12}(?![\w])")
_KEEP_HEAD, _KEEP_TAIL_DIGITS = 3, 3


def _mask_span(text: str) -> str:
    """Every digit after the first three characters and before the last three digits
    becomes ``*`` (separators stay): enough for an operator to correlate, no more."""
    digits_seen = 0
    total_digits = sum(ch.isdigit() for ch in text)
    out = []
    for index, ch in enumerate(text):
        if ch.isdigit():
            digits_seen += 1
            hidden = index >= _KEEP_HEAD and digits_seen <= total_digits - _KEEP_TAIL_DIGITS
            out.append("*" if hidden else ch)
        else:
            out.append(ch)
    return "".join(out)


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(
        text, DEFAULT_REGION, leniency=phonenumbers.Leniency.VALID)]
    spans += [m.span() for m in _MOBILE.finditer(text)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mask_text(text: str) -> str:
    """``text`` with every phone number in it masked (``0812-3456-7890`` →
    ``081*-****-*890``); ticket numbers, Call SIDs and times are left alone."""
    if not any(ch.isdigit() for ch in text):
        return text
    parts, last = [], 0
    for start, end in _phone_spans(text):
        parts += [text[last:start], _mask_span(text[start:end])]
        last = end
    parts.append(text[last:])
    return "".join(parts)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            # The formatter prints exc_text when it is set: the traceback, masked.
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line for a log collector (``LOG_FORMAT=json``): time (UTC, ISO
    8601), level, logger, message and, when there is one, the traceback. It formats what the
    masking filter left, so a phone number is masked here exactly as in text lines."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(self.formatException(record.exc_info))
        if record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(debug: bool = False, log_format: str = "text") -> None:
    """Every line through the masking filter, as text or (``log_format="json"``) JSON."""
    root = logging.getLogger()
    if any(isinstance(f, MaskingFilter) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(MaskingFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # twilio's client logs every request's URL and headers at INFO: not needed, not wanted.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
