"""Errors the portal raises on purpose, translated to problem+json at the HTTP boundary.

SignetError
└── PortalError
    ├── InvalidInput          a request body breaks a rule; carries one error per field
    └── SessionError          a session token that is garbled, forged or expired
"""

from __future__ import annotations

from dataclasses import dataclass

from signet.errors import SignetError


@dataclass(slots=True, frozen=True)
class FieldError:
    """One reason a request was refused, naming the field (``retry_policy.max_attempts``)."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class PortalError(SignetError):
    """Root of the portal's own errors."""


class InvalidInput(PortalError):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        names = ", ".join(dict.fromkeys(e.field for e in errors))
        super().__init__(f"invalid field(s): {names}")


class SessionError(PortalError):
    """A token that does not verify; the message is safe to show (it names no secret)."""
