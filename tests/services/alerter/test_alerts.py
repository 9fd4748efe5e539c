"""Which outcome records the alerter reads at all (pure: the record's headers only)."""

from __future__ import annotations

import pytest

from services.alerter.alerts import RecordHeaders, calls_for_alert
from signet.kafka.topics import OUTCOME_STATUS_HEADER, outcome_headers
from signet.records.model import OutcomeStatus


@pytest.mark.parametrize(
    ("status", "read"),
    [
        (OutcomeStatus.DELIVERED, False),
        (OutcomeStatus.FAILED, False),
        (OutcomeStatus.EXHAUSTED, True),
        (OutcomeStatus.DESTINATION_DISABLED, True),
    ],
)
def test_the_status_header_says_whether_the_record_is_read(
    status: OutcomeStatus, read: bool
) -> None:
    assert calls_for_alert(outcome_headers(status.value)) is read


@pytest.mark.parametrize(
    "headers",
    [
        None,
        [],
        [("traceparent", b"00-abc-def-01")],
        [(OUTCOME_STATUS_HEADER, None)],
        [(OUTCOME_STATUS_HEADER, b"\xff\xfe")],
        [(OUTCOME_STATUS_HEADER, b"a status from a newer dispatcher")],
    ],
)
def test_without_a_known_status_only_the_record_can_tell(
    headers: RecordHeaders,
) -> None:
    # Read (and judged by its body): a record this alerter cannot rule out might be an alert.
    assert calls_for_alert(headers)
