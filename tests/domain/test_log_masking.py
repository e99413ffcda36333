"""Phone numbers never reach a log line unmasked (privacy, UU PDP)."""

from __future__ import annotations

import logging

import pytest

from callcenter.logs import MaskingFilter, mask_text
from callcenter.phones import mask_phone


@pytest.mark.parametrize("raw", ["+6281234567890", "081234567890", "6281234567890"])
def test_numbers_in_free_text_are_masked(raw):
    masked = mask_text(f"caller {raw} pressed 3")
    assert raw not in masked and masked.startswith("caller ") and masked.endswith(" pressed 3")


def test_masking_filter_masks_arguments_too():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "SMS to %s failed",
                               ("+6281234567890",), None)
    MaskingFilter().filter(record)
    assert "+6281234567890" not in record.getMessage()


def test_mask_phone_keeps_country_and_last_digits():
    assert mask_phone("+6281234567890") == "+62*******7890"
    assert mask_phone(None) == "-"
