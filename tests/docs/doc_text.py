"""README.md and docs/*.md as the doc tests read them: where a phrase is, and what it says.

Shared by the settings and range doc tests (``test_settings_*``, ``test_ranges_*``). A
:class:`Document` keeps its text as written and offers its *prose*: the same text with
fenced code blocks blanked out (line numbers kept), because a code block shows commands
and sample output, not a claim about the code. :func:`quantity` reads the numbers the
docs write ("10,000", "200 000", "5 s", "64 KiB", "10-minute") in one base unit per
dimension, so "5 days" and a field of 432000 seconds compare equal.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from signet.api.reference import BEGIN, END

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$", re.M)

# A number as the docs write it: digits with thousands grouped by a comma, a space or a
# narrow no-break space ("10,000", "200 000"), or plain with an optional fraction. Not
# inside a word ("SHA256") or a dotted name.
NUMBER = r"(?<![\w.])(?:\d{1,3}(?:[,\u00a0\u202f ]\d{3})+(?![\d.])|\d+(?:\.\d+)?)"
# Each unit the docs use, as (dimension, factor to the dimension's base unit).
UNITS: dict[str, tuple[str, float]] = {
    "µs": ("time", 1e-6),
    "ms": ("time", 1e-3),
    "s": ("time", 1.0),
    "sec": ("time", 1.0),
    "second": ("time", 1.0),
    "seconds": ("time", 1.0),
    "min": ("time", 60.0),
    "minute": ("time", 60.0),
    "minutes": ("time", 60.0),
    "h": ("time", 3600.0),
    "hour": ("time", 3600.0),
    "hours": ("time", 3600.0),
    "day": ("time", 86400.0),
    "days": ("time", 86400.0),
    "byte": ("size", 1.0),
    "bytes": ("size", 1.0),
    "KiB": ("size", 1024.0),
    "MiB": ("size", 1024.0**2),
    "GiB": ("size", 1024.0**3),
    "%": ("ratio", 0.01),
}
UNIT = "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True))
QUANTITY = rf"{NUMBER}(?:[ \u00a0-]?(?:{UNIT})(?![\w]))?"
_QUANTITY = re.compile(rf"\s*(?P<number>{NUMBER})(?:[ \u00a0-]?(?P<unit>{UNIT})(?!\w))?\s*")
WORDS = {
    word: number
    for number, word in enumerate(
        ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"), 1
    )
}


@dataclass(slots=True, frozen=True)
class Quantity:
    """A stated amount: ``value`` in the base unit of ``dimension`` (seconds, bytes, a
    ratio), or a plain count when the text gave no unit (``dimension`` None)."""

    value: float
    dimension: str | None

    def __str__(self) -> str:
        return f"{self.value:g}" + {"time": " s", "size": " bytes", "ratio": ""}.get(
            self.dimension or "", ""
        )


def quantity(text: str) -> Quantity:
    """The quantity ``text`` states, all of it ("5 s", "10,000", "64 KiB", "five")."""
    if text.strip().lower() in WORDS:
        return Quantity(float(WORDS[text.strip().lower()]), None)
    found = _QUANTITY.fullmatch(text)
    if not found:
        raise ValueError(f"not a quantity: {text!r}")
    number = float(re.sub(r"[,\u00a0\u202f ]", "", found["number"]))
    if found["unit"] is None:
        return Quantity(number, None)
    dimension, factor = UNITS[found["unit"]]
    return Quantity(number * factor, dimension)


def same(a: float, b: float, *, tolerance: float = 1e-9) -> bool:
    return abs(a - b) <= tolerance * max(abs(a), abs(b), 1e-12)


@dataclass(slots=True, frozen=True)
class Row:
    line: int
    cells: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[Row, ...]

    def column(self, name: str) -> int | None:
        lowered = [cell.lower() for cell in self.header]
        return lowered.index(name) if name in lowered else None


def _cells(line: str) -> tuple[str, ...]:
    return tuple(cell.strip() for cell in line.strip().strip("|").split("|"))


GENERATED = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


@dataclass(slots=True)
class Document:
    path: Path
    text: str
    _line_starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]

    @property
    def name(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @property
    def prose(self) -> str:
        """The text with fenced code blocks and the generated field reference blanked (each
        character but newlines a space). The reference is made from the code by
        ``make docs`` and held to it by tests/docs/test_generated.py."""
        return GENERATED.sub(_blank, FENCE.sub(_blank, self.text))

    def line(self, offset: int) -> int:
        return bisect_right(self._line_starts, offset)

    def offset_of_line(self, line: int) -> int:
        return self._line_starts[line - 1]

    def where(self, offset: int) -> str:
        return f"{self.name}:{self.line(offset)}"

    def line_text(self, number: int) -> str:
        return self.text.splitlines()[number - 1]

    def heading_at(self, offset: int) -> str:
        """The nearest heading at or before ``offset`` ("" before the first)."""
        found = ""
        for heading in HEADING.finditer(self.prose):
            if heading.start() > offset:
                break
            found = heading.group(1)
        return found

    def section(self, title: str) -> tuple[int, int]:
        """The span of the section whose heading starts with ``title``, to the next
        heading of the same or a higher level."""
        for heading in re.finditer(r"^(#{1,6})[ \t]+(.*)$", self.prose, re.M):
            if heading.group(2).startswith(title):
                level = len(heading.group(1))
                after = re.compile(rf"^#{{1,{level}}}[ \t]", re.M).search(self.prose, heading.end())
                return heading.start(), after.start() if after else len(self.text)
        raise LookupError(f"{self.name} has no section {title!r}")

    def tables(self) -> Iterator[Table]:
        """Every pipe table of the prose, with the line of each row."""
        lines = self.prose.splitlines()
        i = 0
        while i + 1 < len(lines):
            if lines[i].lstrip().startswith("|") and re.fullmatch(
                r"\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*", lines[i + 1]
            ):
                header = _cells(lines[i])
                rows = []
                j = i + 2
                while j < len(lines) and lines[j].lstrip().startswith("|"):
                    rows.append(Row(j + 1, _cells(lines[j])))
                    j += 1
                yield Table(header, tuple(rows))
                i = j
            else:
                i += 1


@cache
def documents() -> tuple[Document, ...]:
    paths = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    return tuple(Document(path, path.read_text(encoding="utf-8")) for path in paths)


def document(name: str) -> Document:
    """A document by its path from the repository root ("docs/delivery.md")."""
    for doc in documents():
        if doc.name == name:
            return doc
    raise LookupError(name)
