"""The demo's terminal: numbered steps, the API call behind each one, tables, waiting.

Every step says which call it made (``POST /v1/workspaces → 201``) so a reader can redo
it with curl; secrets are shown the way the API shows them once, then only as hints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console, RenderableType
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

OK = "[bold green]✓[/]"
FAIL = "[bold red]✗[/]"


def hint(secret: str) -> str:
    """``whsec_…f3Qa``: enough to recognise a secret, not enough to use it."""
    known = ("pk_live_", "pk_test_", "whsec_", "whpk_")
    prefix = next((p for p in known if secret.startswith(p)), "")
    return f"{prefix}…{secret[-4:]}"


class Narrator:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._step = 0
        self._began = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._began

    def title(self, text: str, subtitle: str) -> None:
        self.console.print(Panel(Text(subtitle), title=f"[bold]{text}[/]", expand=False))

    def step(self, text: str) -> None:
        self._step += 1
        self.console.print()
        self.console.print(Rule(f"[bold]{self._step}. {text}[/]", align="left"))

    def call(self, method: str, path: str, status: int | str, note: str = "") -> None:
        """One API call this step made (or a library call, with ``status`` its result)."""
        colour = "green" if isinstance(status, str) or status < 400 else "red"
        line = Text.assemble(
            ("  → ", "dim"),
            (f"{method} ", "bold cyan"),
            (path, "cyan"),
            ("  ", ""),
            (str(status), f"bold {colour}"),
        )
        if note:
            line.append(f"  {note}", style="dim")
        self.console.print(line)

    def say(self, markup: str) -> None:
        self.console.print(f"  {markup}")

    def show(self, renderable: RenderableType) -> None:
        self.console.print(renderable)

    def table(
        self, title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(cell) for cell in row))
        self.console.print(table)

    @contextmanager
    def waiting(self, text: str) -> Iterator[None]:
        with self.console.status(f"[dim]{text}[/]"):
            yield

    @contextmanager
    def progress(self, text: str, total: int) -> Iterator[Callable[[int], None]]:
        """A bar out of ``total``; the block gets a function that sets how many are done."""
        bar = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        with bar:
            task = bar.add_task(text, total=total)
            yield lambda completed: bar.update(task, completed=completed)
