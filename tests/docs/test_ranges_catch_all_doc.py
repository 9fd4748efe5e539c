"""No range is added to README.md and docs/*.md unchecked.

The catch-all reads every range-like phrase of the prose ("1\N{EN DASH}30 s", "0.001 to 10000",
"between 1 and 50", "at most 20", "up to 500", "±20 %", "[0.8, 1.2]") and fails for one
that no entry of :data:`~tests.docs.documented_ranges.RANGES` reads and :data:`NOT_CODE`
does not explain (a measurement, advice, an estimate). Code blocks (commands, sample
output), dates and the measured results of docs/benchmarks.md (:data:`RESULTS`) are not
read.
"""

from __future__ import annotations

import re

from tests.docs.doc_text import INLINE_CODE, NUMBER, UNIT, Document, document, documents
from tests.docs.documented_ranges import DASH, RANGES, spans

# Range-like phrases that state no range of the code, each with the reason.
NOT_CODE: tuple[tuple[str, str, str], ...] = (
    ("docs/getting-started.md", rf"2{DASH}4 min \(the first", "an estimate of how long it takes"),
    ("docs/operations.md", rf"12{DASH}24 is a good start", "advice on partition counts"),
    ("docs/operations.md", rf"\| alerter \| alerts \| 1{DASH}2;", "advice on replica counts"),
    ("docs/operations.md", rf"measured at 50{DASH}95 µs of CPU", "a measurement"),
    ("docs/operations.md", rf"\| router \| 1\.1{DASH}2\.1 s \|", "a measurement"),
    ("docs/benchmarks.md", r"One run can move by up to 25 %", "a measurement"),
    ("docs/benchmarks.md", r"moved by up to 25 % between two", "a measurement"),
    ("docs/benchmarks.md", rf"about 31{DASH}38 MiB per service", "a measurement"),
    (
        "docs/benchmarks.md",
        r"\(default 10 % of the run, at most 30\)",
        "bench/soak.py's min(30.0, 0.1 * seconds): no constant to import",
    ),
    (
        "docs/delivery.md",
        r"max\(1 s, 10 % of its delay\)",
        "a bound tests/services/dispatcher/test_hold.py asserts, no constant",
    ),
    (
        "docs/delivery.md",
        r'"at most 10 % late"',
        "a bound tests/services/dispatcher/test_hold.py asserts, no constant",
    ),
)
# Measured results: their ranges are what a run gave, not what the code allows.
RESULTS = {
    "docs/benchmarks.md": ("Results", "Goals (issue 7)", "Tried and not kept"),
}

_Q = rf"{NUMBER}(?:[ \u00a0]?(?:{UNIT})(?!\w))?"
RANGE_LIKE = re.compile(
    "|".join(
        (
            rf"{_Q}\s*[{DASH}-]\s*{NUMBER}",  # 1 to 30 s with a dash
            rf"{_Q}\s+to\s+{NUMBER}",  # 0.001 to 10000
            rf"\bbetween\s+{_Q}\s+and\s+{NUMBER}",
            rf"\b(?:at\s+most|at\s+least|up\s+to|no\s+more\s+than)\s+{NUMBER}",
            rf"±\s*{NUMBER}",
            rf"\b(?:max|min)\(\s*{NUMBER}",
            r"\[[^\]\n]*\d[^\]\n]*\](?!\()",  # [0.8, 1.2], [the schedule's delay, 12 h]
        )
    ),
    re.I,
)
DATE = re.compile(r"\b\d{4}-\d{2}(?:-\d{2})?\b")
LINK_TARGET = re.compile(r"\]\([^)\s]*\)")


def blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


def readable(doc: Document) -> str:
    """The prose the catch-all reads: no inline code, link targets, dates, or results."""
    text = INLINE_CODE.sub(blank, doc.prose)
    text = LINK_TARGET.sub(blank, DATE.sub(blank, text))
    for title in RESULTS.get(doc.name, ()):
        start, end = doc.section(title)
        text = text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]
    return text


def test_every_range_in_the_docs_is_checked_or_explained() -> None:
    """A range-like phrase no entry of RANGES reads and NOT_CODE does not explain fails:
    a new range cannot reach the docs unchecked."""
    unchecked: list[str] = []
    for doc in documents():
        covered: list[tuple[int, int]] = [
            match.span()
            for entry in RANGES
            if entry.doc == doc.name and not entry.text
            for match in spans(doc, entry.pattern)
        ] + [
            match.span()
            for name, pattern, _ in NOT_CODE
            if name == doc.name
            for match in spans(doc, pattern)
        ]
        for found in RANGE_LIKE.finditer(readable(doc)):
            if not any(start <= found.start() < end for start, end in covered):
                unchecked.append(f"{doc.where(found.start())}: {found.group(0)!r}")
    assert not unchecked, (
        "ranges no test checks (add them to RANGES with the code constant they state, "
        "or to NOT_CODE with the reason):\n" + "\n".join(unchecked)
    )


def test_every_not_code_entry_still_matches() -> None:
    gone = [
        f"{name}: /{pattern}/"
        for name, pattern, _ in NOT_CODE
        if not list(spans(document(name), pattern))
    ]
    assert not gone, "NOT_CODE entries that match nothing any more:\n" + "\n".join(gone)


def test_the_catch_all_sees_each_form_of_range() -> None:
    """The forms the docs use are all caught, and dates, code and link targets are not."""
    seen = [
        m.group(0)
        for m in RANGE_LIKE.finditer(
            f"(1{DASH}30 s) (0.001 to 10000) between 1 and 50, at most 20, up to 500, "
            "±20 % in [0.8, 1.2] max(1 s, 10 %)"
        )
    ]
    assert seen == [
        f"1{DASH}30",
        "0.001 to 10000",
        "between 1 and 50",
        "at most 20",
        "up to 500",
        "±20",
        "[0.8, 1.2]",
        "max(1",
    ], seen
    doc = Document(
        document("docs/delivery.md").path,
        "on 2026-11-27, `1-30`, [a](b.md#1-2)\n```\n1-30\n```\n",
    )
    assert not RANGE_LIKE.search(readable(doc)), readable(doc)
