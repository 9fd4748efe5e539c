"""Every default the docs speak of is read by a check, so none is added unchecked.

A line that says "default" and holds a number must be read by the named-default parser
(``tests/docs/named_defaults.py``), :data:`~tests.docs.unnamed_defaults.STATED` or
:data:`~tests.docs.unnamed_defaults.SCHEDULE`, or be in :data:`NOT_OURS` with the
reason.
"""

from __future__ import annotations

import re

from tests.docs.doc_text import INLINE_CODE, NUMBER, Document, document, documents
from tests.docs.named_defaults import stated_defaults
from tests.docs.unnamed_defaults import SCHEDULE, STATED

# Lines that speak of a default with a number, and are no setting's default of ours.
NOT_OURS: tuple[tuple[str, str, str], ...] = (
    ("docs/benchmarks.md", r"librdkafka's default is 64 MiB", "librdkafka's own default"),
    ("docs/operations.md", r"`500` \(librdkafka's", "librdkafka's own default"),
    (
        "docs/benchmarks.md",
        r"2026-11-27 \(the second session that day\), at the defaults",
        "a date",
    ),
    (
        "docs/benchmarks.md",
        r"500 events/s \(20\S\), 20 s each, at the defaults",
        "a measured set-up",
    ),
    ("docs/benchmarks.md", r"^\| `bench\.(e2e|soak)` \|", "a benchmark command's options"),
    ("docs/delivery.md", r"p99 0\.05 s late with the default hold", "a measurement"),
    ("docs/delivery.md", r"for 20 s per phase, on loopback \(2-core", "a measured set-up"),
    ("docs/receiving-webhooks.md", r"`standard-webhooks` \(default\)", "the default scheme"),
    ("docs/operations.md", r"^\| `OTEL_", "OpenTelemetry's own variables and defaults"),
)
DEFAULT_WORD = re.compile(r"\bdefaults?\b", re.I)


def covered_lines() -> dict[str, set[int]]:
    """The lines each doc's defaults are read on: named, :data:`STATED`, :data:`SCHEDULE`,
    :data:`NOT_OURS`."""
    lines: dict[str, set[int]] = {doc.name: set() for doc in documents()}

    def cover(doc: Document, start: int, end: int) -> None:
        lines[doc.name].update(range(doc.line(start), doc.line(end) + 1))

    for doc in documents():
        for stated in stated_defaults(doc):
            cover(doc, stated.offset, stated.offset + len(stated.env) + 40)
    for entry in STATED:
        doc = document(entry.doc)
        for found in re.finditer(entry.pattern, doc.prose):
            cover(doc, found.start(), found.end())
    for name, pattern in SCHEDULE.items():
        doc = document(name)
        for found in re.finditer(pattern, doc.prose, re.M):
            cover(doc, found.start(), found.end())
    for name, pattern, _ in NOT_OURS:
        doc = document(name)
        for found in re.finditer(pattern, doc.prose, re.M):
            cover(doc, found.start(), found.end())
    return lines


def test_every_default_with_a_number_is_read() -> None:
    """A line that says "default" and holds a number states a default: it must be read
    by one of the checks above, or be listed as not ours, so none is added unchecked."""
    covered = covered_lines()
    unread = []
    for doc in documents():
        for number, line in enumerate(doc.prose.splitlines(), 1):
            text = INLINE_CODE.sub(
                lambda m: m.group(0) if "`" not in m.group(0)[1:-1] else "", line
            )
            if (
                DEFAULT_WORD.search(text)
                and re.search(NUMBER, text)
                and number not in covered[doc.name]
            ):
                unread.append(f"{doc.name}:{number}: {line.strip()}")
    assert not unread, "a default no test reads (add it to STATED or NOT_OURS):\n" + "\n".join(
        unread
    )


def test_every_not_ours_entry_still_matches() -> None:
    gone = [
        f"{name}: /{pattern}/"
        for name, pattern, _ in NOT_OURS
        if not re.search(pattern, document(name).prose, re.M)
    ]
    assert not gone, "NOT_OURS entries that match nothing any more:\n" + "\n".join(gone)
