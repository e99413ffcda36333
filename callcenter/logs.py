"""Log set-up with personal data masked in every line (privacy, UU PDP).

Phone numbers are masked by pattern wherever they appear, so a careless ``%s`` of a form
cannot leak one.
"""

from __future__ import annotations

import logging
import re

_PHONE = re.compile(r"(?<![\w])(\+?62|0)8\d{7,12}(?!\d)")


def mask_text(text: str) -> str:
    return _PHONE.sub(lambda m: m.group(0)[:3] + "*" * (len(m.group(0)) - 6) + m.group(0)[-3:],
                      text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        return True


def configure_logging(debug: bool = False) -> None:
    root = logging.getLogger()
    if any(isinstance(f, MaskingFilter) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # twilio's client logs every request's URL and headers at INFO: not needed, not wanted.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
