"""Reading an HTTP ``Retry-After`` header (RFC 9110 §10.2.3): delta-seconds or an HTTP date.

Receivers answering 429/503 and Slack's rate limits both say when to come back this way.
"""

from __future__ import annotations

import email.utils
import time
from datetime import timezone

# However long a server asks for, Signet waits at most this long
# (docs/architecture.md#response-policy-and-outcomes).
MAX_RETRY_AFTER_SECONDS = 12 * 3600


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), clamped.

    None when absent or unreadable: the schedule's own delay applies then.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": RFC 5322's "zone unknown"; HTTP dates are GMT
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), float(MAX_RETRY_AFTER_SECONDS))
