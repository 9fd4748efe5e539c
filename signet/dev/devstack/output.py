"""The terminal of ``signet up``: prefixed, coloured lines from every child and from itself.

Each child's lines are printed as ``ingest     | <line>`` in that child's colour; the
stack's own messages come through :mod:`logging` as ``signet     | <message>``. Lines are
never wrapped (``soft_wrap``) so they stay greppable, and colour is dropped when the
output is not a terminal.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from rich.console import Console
from rich.text import Text

_PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")
_LEVEL_STYLES = {logging.WARNING: "bold yellow", logging.ERROR: "bold red"}
SELF_NAME = "signet"


class StackConsole:
    """Where the stack writes: one console, one prefix width, one colour per source."""

    def __init__(self, console: Console | None = None, *, prefix_width: int = 10) -> None:
        self.console = console or Console(highlight=False)
        self._width = prefix_width
        self._colours: dict[str, str] = {SELF_NAME: "bold"}
        # Child output is printed from the event loop, log records from any thread.
        self._lock = threading.Lock()

    def _colour(self, source: str) -> str:
        if source not in self._colours:
            self._colours[source] = _PALETTE[(len(self._colours) - 1) % len(_PALETTE)]
        return self._colours[source]

    def line(self, source: str, text: str, style: str | None = None) -> None:
        """Print one line of ``source`` (a child's name, or ``signet``)."""
        prefix = Text(f"{source:<{self._width}} | ", style=self._colour(source))
        body = Text.from_ansi(text, style=style or "")
        with self._lock:
            self.console.print(prefix + body, soft_wrap=True)

    def print(self, *objects: Any, soft_wrap: bool | None = None) -> None:
        with self._lock:
            self.console.print(*objects, soft_wrap=soft_wrap)

    def handler(self) -> logging.Handler:
        """A logging handler that prints records as the stack's own prefixed lines."""
        return _ConsoleHandler(self)


class _ConsoleHandler(logging.Handler):
    def __init__(self, console: StackConsole) -> None:
        super().__init__()
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            style = _LEVEL_STYLES.get(record.levelno)
            for text in message.splitlines() or [""]:
                self._console.line(SELF_NAME, text, style)
        except Exception:  # noqa: BLE001 - a log line must never take the stack down
            self.handleError(record)
