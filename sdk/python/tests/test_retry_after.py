from __future__ import annotations

import email.utils

import pytest

from signet_sdk.retry_after import MAX_RETRY_AFTER_SECONDS, parse_retry_after

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("0", 0.0),
        ("30", 30.0),
        (str(10**9), float(MAX_RETRY_AFTER_SECONDS)),
        (email.utils.formatdate(NOW - 60, usegmt=True), 0.0),
        (email.utils.formatdate(NOW + 86400 * 3, usegmt=True), float(MAX_RETRY_AFTER_SECONDS)),
        ("Tue, 14 Nov 2023 22:14:20 -0000", 60.0),  # no zone: read as GMT
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected
