"""The response policy (docs/architecture.md#response-policy-and-outcomes) as a table."""

from __future__ import annotations

import email.utils

import pytest

from services.dispatcher.policy import Action, decide
from services.dispatcher.results import AttemptResult, ErrorKind

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (200, Action.DELIVERED),
        (202, Action.DELIVERED),
        (204, Action.DELIVERED),
        (299, Action.DELIVERED),
        (301, Action.RETRY),
        (302, Action.RETRY),
        (304, Action.RETRY),
        (400, Action.RETRY),
        (401, Action.RETRY),
        (404, Action.RETRY),
        (410, Action.DISABLE),
        (429, Action.RETRY),
        (500, Action.RETRY),
        (503, Action.RETRY),
    ],
)
def test_http_status(status: int, action: Action) -> None:
    verdict = decide(AttemptResult(http_status=status))
    assert verdict.action is action
    assert str(status) in verdict.reason
    assert verdict.delivered is (action is Action.DELIVERED)


def test_redirects_say_they_were_not_followed() -> None:
    assert "not followed" in decide(AttemptResult(http_status=302)).reason


@pytest.mark.parametrize(
    ("kind", "action"),
    [
        (ErrorKind.TIMEOUT, Action.RETRY),
        (ErrorKind.CONNECT, Action.RETRY),
        (ErrorKind.DNS, Action.RETRY),
        (ErrorKind.TLS, Action.RETRY),
        (ErrorKind.RESET, Action.RETRY),
        (ErrorKind.PROTOCOL, Action.RETRY),
        (ErrorKind.SIGNING, Action.RETRY),
        (ErrorKind.REFUSED, Action.FAIL),
        (ErrorKind.INVALID_URL, Action.FAIL),
        (ErrorKind.UNAVAILABLE, Action.FAIL),
    ],
)
def test_errors_without_an_answer(kind: ErrorKind, action: Action) -> None:
    verdict = decide(AttemptResult(error_kind=kind, error=f"boom: {kind}"))
    assert verdict.action is action
    assert verdict.reason == f"boom: {kind}"


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_for_429_and_503(status: int) -> None:
    verdict = decide(AttemptResult(http_status=status, retry_after="120"), now=NOW)
    assert verdict.retry_after_seconds == 120
    date = email.utils.formatdate(NOW + 90, usegmt=True)
    assert decide(
        AttemptResult(http_status=status, retry_after=date), now=NOW
    ).retry_after_seconds == pytest.approx(90)


def test_retry_after_is_ignored_elsewhere() -> None:
    assert decide(AttemptResult(http_status=500, retry_after="60")).retry_after_seconds is None
