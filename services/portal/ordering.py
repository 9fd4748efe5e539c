"""The portal's rules for a destination's ``ordering`` (docs/delivery.md#ordered-delivery).

A FIFO destination's followers wait on the hold topic while its head is retried, and
records there are kept only as long as the topics' retention (7 days). So a FIFO
destination's retry policy must give up well inside that: at most
:data:`FIFO_MAX_RETRY_SPAN_SECONDS` (half the retention) from the first attempt to the
last, counting the largest jitter. Checked on the destination as it will be stored (after
a PATCH has been applied), so changing ``ordering`` or ``retry_policy`` alone is judged
with the other's stored value.
"""

from __future__ import annotations

from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors

from signet.records.model import DeliveryOrdering, Destination, DestinationType, RetryPolicy
from signet.settings import DEFAULT_RETRY_DELAYS_SECONDS, FIFO_MAX_RETRY_SPAN_SECONDS

__all__ = ["FIFO_MAX_RETRY_SPAN_SECONDS", "check_ordering", "retry_span_seconds"]
# The dispatcher's SIGNET_RETRY_JITTER is at most this here: a delay may come out 20 % longer.
ASSUMED_JITTER = 0.2


def retry_span_seconds(policy: RetryPolicy | None) -> float:
    """The longest a delivery under ``policy`` can take from its first attempt to its last
    (the platform's default schedule fills the parts the policy leaves null)."""
    policy = policy or RetryPolicy()
    delays = list(policy.delays_seconds or DEFAULT_RETRY_DELAYS_SECONDS)
    attempts = policy.max_attempts or 1 + len(delays)
    # The delay after attempt n is delays[n-1]; the last one repeats.
    waits = [delays[min(n, len(delays) - 1)] for n in range(attempts - 1)]
    span = sum(waits) * (1 + ASSUMED_JITTER)
    if policy.max_age_seconds is not None:
        span = min(span, float(policy.max_age_seconds))
    return span


def check_ordering(destination: Destination) -> None:
    """FieldErrors when ``destination`` is FIFO with a retry policy too long for the topics."""
    if destination.type != DestinationType.WEBHOOK.value:
        return
    if destination.ordering != DeliveryOrdering.FIFO.value:
        return
    span = retry_span_seconds(destination.retry_policy)
    if span <= FIFO_MAX_RETRY_SPAN_SECONDS:
        return
    hours = FIFO_MAX_RETRY_SPAN_SECONDS // 3600
    message = (
        f"a fifo destination's retries must end within {hours} hours (the held deliveries "
        f"behind a failing one wait on topics kept 7 days); this policy may take "
        f"{span / 3600:.1f} hours: lower max_attempts or max_age_seconds"
    )
    raise FieldErrors([FieldError("retry_policy", FieldErrorCode.INVALID, message)])
