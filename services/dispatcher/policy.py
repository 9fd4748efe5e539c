"""The response policy: what an attempt's result means for the delivery
(docs/architecture.md#response-policy-and-outcomes).

``decide`` is pure. The pipeline acts on the verdict: RETRY schedules the next attempt
(``schedule.py``; ``retry_after_seconds`` when the receiver asked), DISABLE disables the
destination (``disabling.py``), FAIL ends the delivery without a retry. An open circuit
breaker is a RETRY too: the attempt is counted, nothing was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from signet_sdk.retry_after import parse_retry_after

from services.dispatcher.results import AttemptResult, ErrorKind

HONOURS_RETRY_AFTER = frozenset({429, 503})

# No request went out, and trying again cannot change that without a config change.
_PERMANENT = frozenset({ErrorKind.REFUSED, ErrorKind.INVALID_URL, ErrorKind.UNAVAILABLE})


class Action(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DISABLE = "disable"  # 410 Gone: the receiver asked us to stop
    FAIL = "fail"  # give up on this delivery without retrying


@dataclass(slots=True, frozen=True)
class Verdict:
    action: Action
    reason: str
    retry_after_seconds: float | None = None

    @property
    def delivered(self) -> bool:
        return self.action is Action.DELIVERED


def decide(result: AttemptResult, *, now: float | None = None) -> Verdict:
    status = result.http_status
    if status is None:
        kind = result.error_kind or ErrorKind.PROTOCOL
        reason = result.error or kind.value
        return Verdict(Action.FAIL if kind in _PERMANENT else Action.RETRY, reason)
    if 200 <= status < 300:
        return Verdict(Action.DELIVERED, f"HTTP {status}")
    if status == 410:
        return Verdict(Action.DISABLE, "HTTP 410: the receiver asked to stop deliveries")
    if status in HONOURS_RETRY_AFTER:
        delay = parse_retry_after(result.retry_after, now=now)
        return Verdict(Action.RETRY, f"HTTP {status}", retry_after_seconds=delay)
    if 300 <= status < 400:
        return Verdict(Action.RETRY, f"HTTP {status}: redirects are not followed")
    return Verdict(Action.RETRY, f"HTTP {status}")
