"""What one delivery attempt came to: the receiver's answer, or why there was none."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    """Why an attempt got no HTTP answer; the response policy decides on this."""

    TIMEOUT = "timeout"
    CONNECT = "connect"
    DNS = "dns"
    TLS = "tls"
    RESET = "reset"
    PROTOCOL = "protocol"
    REFUSED = "refused"  # the SSRF guard / URL policy: no request was made
    INVALID_URL = "invalid_url"
    SIGNING = "signing"  # the secret could not be opened or does not fit the scheme
    UNAVAILABLE = "unavailable"  # deleted or disabled destination: no request was made
    CIRCUIT_OPEN = "circuit_open"  # the destination's breaker is open: no request was made


@dataclass(slots=True, frozen=True)
class AttemptResult:
    http_status: int | None = None
    error_kind: ErrorKind | None = None
    error: str | None = None
    latency_ms: float | None = None
    response_excerpt: str | None = None
    retry_after: str | None = None  # the receiver's Retry-After header, verbatim

    @property
    def requested(self) -> bool:
        """True when an HTTP request went out (answered or not)."""
        return self.error_kind not in (
            ErrorKind.REFUSED,
            ErrorKind.INVALID_URL,
            ErrorKind.SIGNING,
            ErrorKind.UNAVAILABLE,
            ErrorKind.CIRCUIT_OPEN,
        )

    @property
    def status_class(self) -> str:
        """``2xx`` … ``5xx``, or ``none`` without an HTTP answer (a metrics label)."""
        return f"{self.http_status // 100}xx" if self.http_status is not None else "none"


def unavailable(reason: str) -> AttemptResult:
    return AttemptResult(error_kind=ErrorKind.UNAVAILABLE, error=reason)


def signing_failed(reason: str) -> AttemptResult:
    return AttemptResult(error_kind=ErrorKind.SIGNING, error=reason)


def circuit_open(failures: int, retry_in_seconds: float) -> AttemptResult:
    return AttemptResult(
        error_kind=ErrorKind.CIRCUIT_OPEN,
        error=(
            f"not sent: circuit open after {failures} consecutive failures "
            f"(next probe in {retry_in_seconds:.0f}s)"
        ),
    )
