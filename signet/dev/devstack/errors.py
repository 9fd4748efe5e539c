"""Errors of the dev stack: a service that would not start or keeps crashing."""

from __future__ import annotations

from collections.abc import Sequence

from signet.errors import SignetError


class ServiceFailedError(SignetError):
    """A child process was not ready in time, exited before it was, or crashed too often.

    Carries the last lines the child printed, because they almost always say why.
    """

    def __init__(self, service: str, reason: str, last_lines: Sequence[str] = ()) -> None:
        self.service = service
        self.reason = reason
        self.last_lines = tuple(last_lines)
        super().__init__(f"{service}: {reason}")

    def explain(self) -> str:
        """The reason followed by the child's last lines, ready to print."""
        if not self.last_lines:
            return f"{self} (it printed nothing)"
        tail = "\n".join(f"    {line}" for line in self.last_lines)
        return f"{self}; its last lines:\n{tail}"
