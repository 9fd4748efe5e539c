"""The events client's errors: the ingest refused a request, or never acknowledged it."""

from __future__ import annotations

from typing import Any, ClassVar

from signet_sdk.errors import SignetError


class ClientError(SignetError):
    """The ingest refused a request; ``problem`` is its problem+json body when it sent one."""

    def __init__(self, message: str, *, status: int | None = None, problem: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem: dict[str, Any] = problem if isinstance(problem, dict) else {}

    @property
    def errors(self) -> list[dict[str, Any]]:
        """``[{"field", "code", "message"}, …]`` from the problem body."""
        return list(self.problem.get("errors") or [])


class AuthenticationError(ClientError):
    """The publishable key is missing, malformed, unknown or revoked."""


class InvalidEventError(ClientError):
    """The event breaks a rule (field, size, type); ``errors`` names each bad field."""


class IdempotencyConflictError(ClientError):
    """The idempotency key was already used for a different event within 24 h."""


class UnavailableError(ClientError):
    """Still no acknowledgement after every retry; safe to retry later with the same key."""

    retriable: ClassVar[bool] = True
