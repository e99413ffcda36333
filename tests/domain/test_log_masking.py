"""Phone numbers never reach a log line unmasked (privacy, UU PDP)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys

import pytest

from callcenter.config import PROJECT_ROOT
from callcenter.logs import MaskingFilter, mask_text
from callcenter.phones import mask_phone

WRITTEN_FORMS = [
    "+6281234567890", "081234567890", "6281234567890",
    "0812-3456-7890", "+62 812 3456 7890", "(021) 5000-1234", "62 812-3456-7890",
    "0812 3456 7890", "+62-812-3456-7890", "0812.3456.7890", "021-5000-1234",
    "(+62) 812 3456 7890", "+62 (812) 3456-7890", "+622150001234", "0899-1234-5678",
]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@pytest.mark.parametrize("raw", WRITTEN_FORMS)
def test_numbers_in_free_text_are_masked_whatever_their_separators(raw):
    masked = mask_text(f"caller {raw} pressed 3")
    assert raw not in masked and masked.startswith("caller ") and masked.endswith(" pressed 3")
    # Not even the digits survive once the separators are taken out.
    assert _digits(raw)[-7:] not in _digits(masked)
    assert _digits(raw)[-3:] == _digits(masked)[-4:-1]  # the last digits, for correlation


def test_a_query_string_with_a_phone_is_masked():
    masked = mask_text("GET /api/tickets?phone=0812-3456-7890&status=open")
    assert "3456" not in masked and masked.endswith("&status=open")


@pytest.mark.parametrize("kept", [
    "ticket 1000015", "CallSid CA0123456789abcdef0123456789abcdef", "2026-11-25 09:00:00",
    "127.0.0.1:5000", "took 1250 ms", "pid 12345",
])
def test_ids_and_times_an_operator_needs_are_left_alone(kept):
    assert mask_text(kept) == kept


def test_masking_filter_masks_arguments_too():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "SMS to %s failed",
                               ("+6281234567890",), None)
    MaskingFilter().filter(record)
    assert "+6281234567890" not in record.getMessage()


def test_a_traceback_in_a_log_record_is_masked():
    try:
        raise ValueError("no customer with phone 0812-3456-7890")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "lookup failed", None,
                                   __import__("sys").exc_info())
    MaskingFilter().filter(record)
    line = logging.Formatter("%(message)s").format(record)
    assert "ValueError" in line and "0812-3456-7890" not in line and "3456" not in line


def test_mask_phone_keeps_country_and_last_digits():
    assert mask_phone("+6281234567890") == "+62*******7890"
    assert mask_phone(None) == "-"


def test_json_log_lines_are_masked_like_text_lines():
    """``LOG_FORMAT=json`` in a real process: one JSON object a line, phone numbers masked in
    the message and in the traceback, as in text lines."""
    script = (
        "import logging\n"
        "from callcenter.config import Settings\n"
        "from callcenter.logs import configure_logging\n"
        "settings = Settings.from_env()\n"
        "configure_logging(settings.debug, settings.log_format)\n"
        "log = logging.getLogger('callcenter.test')\n"
        "log.warning('call from %s', '0812-3456-7890')\n"
        "try:\n"
        "    raise ValueError('bad number +62 812 3456 7890')\n"
        "except ValueError:\n"
        "    log.exception('lookup failed')\n")
    env = {**os.environ, "LOG_FORMAT": "json"}
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["message"] for line in lines] == ["call from 081*-****-*890",
                                                   "lookup failed"]
    assert lines[0]["level"] == "WARNING" and lines[0]["logger"] == "callcenter.test"
    assert "ValueError" in lines[1]["traceback"]
    assert "3456" not in result.stderr
