"""Errors of the alerter. None of them ever carries a Slack webhook URL: only its host.

    SignetError (signet/errors.py)
    └── AlerterError
        ├── SlackUnavailable      429, 5xx, timeout, network error       retriable=True
        ├── SlackRejected         any other answer (404 no_service, 403, 400): final
        ├── ChannelUnusable       the sealed URL does not open, or the SSRF guard refuses it
        └── SlackGaveUp           the retry budget is spent; the alert is dead-lettered

``retriable`` decides between another attempt and a dead letter; the retry loop asks the
error, never its type.
"""

from __future__ import annotations

from typing import ClassVar

from signet.errors import SignetError


class AlerterError(SignetError):
    """Root of the alerter's own errors.

    ``channel`` is the channel's label (name, destination id, host: never its URL) and
    ``detail`` what went wrong; the message is both.
    """

    def __init__(self, detail: str, *, channel: str = "") -> None:
        super().__init__(f"{channel}: {detail}" if channel else detail)
        self.channel = channel
        self.detail = detail

    @property
    def kind(self) -> str:
        """A short label for metrics: why Slack did not take the message."""
        return "error"


class SlackUnavailable(AlerterError):
    """Slack did not take the message this time (rate limit, server error, network)."""

    retriable: ClassVar[bool] = True

    def __init__(
        self,
        detail: str,
        *,
        channel: str = "",
        status: int | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(detail, channel=channel)
        self.status = status
        self.retry_after_seconds = retry_after_seconds

    @property
    def kind(self) -> str:
        if self.status == 429:
            return "rate_limited"
        return "network" if self.status is None else "server_error"


class SlackRejected(AlerterError):
    """Slack refused the message for good (revoked webhook, archived channel, bad payload)."""

    def __init__(self, detail: str, *, channel: str = "", status: int | None = None) -> None:
        super().__init__(detail, channel=channel)
        self.status = status

    @property
    def kind(self) -> str:
        return "rejected"


class ChannelUnusable(AlerterError):
    """The channel's URL cannot be used: it does not open, or it points somewhere refused."""

    @property
    def kind(self) -> str:
        return "unusable"


class SlackGaveUp(AlerterError):
    """Every attempt of the retry budget failed; ``last`` is the final attempt's error."""

    def __init__(self, *, channel: str, attempts: int, last: AlerterError) -> None:
        super().__init__(f"gave up after {attempts} attempts; last: {last.detail}", channel=channel)
        self.attempts = attempts
        self.last = last
