"""Defaults the docs state without the setting's name are the code's.

Each phrase of :data:`tests.docs.unnamed_defaults.STATED` is found and its values are
the code's; the default retry schedule, shown three times, is the default delays and
jitter each time. Every mismatch is reported, with its file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from signet.settings import DEFAULT_RETRY_DELAYS_SECONDS, DispatcherSettings
from tests.docs.doc_text import Quantity, document, quantity, same
from tests.docs.settings_index import code_defaults, numeric_default
from tests.docs.unnamed_defaults import SCHEDULE, STATED, Stated


def judge(entry: Stated) -> Iterator[str]:
    """Every way ``entry`` is wrong: its phrase gone, or a value not the code's."""
    doc = document(entry.doc)
    found = re.search(entry.pattern, doc.prose)
    if found is None:
        yield f"{entry.doc}: no longer says /{entry.pattern}/ (update STATED)"
        return
    expected = entry.code()
    if len(found.groups()) != len(expected):
        yield f"{doc.where(found.start())}: {len(found.groups())} values, {len(expected)} in code"
        return
    for index, (text, code) in enumerate(zip(found.groups(), expected, strict=True), 1):
        where = doc.where(found.start(index))
        if isinstance(code, str):
            if text != code:
                yield f"{where}: says {text!r}, code: {code!r}"
            continue
        stated = quantity(text)
        if not same(stated.value, float(code), tolerance=max(entry.about, 1e-9)):
            code_quantity = Quantity(float(code), stated.dimension)
            yield f"{where}: says {text!r} ({stated}), code: {code_quantity}"


def test_defaults_stated_without_a_setting_s_name_are_the_code_s() -> None:
    wrong = [problem for entry in STATED for problem in judge(entry)]
    assert not wrong, "\n".join(wrong)


def test_the_retry_schedule_the_docs_show_is_the_default() -> None:
    """The schedule appears three times (delivery.md's table, receiving-webhooks.md's and
    architecture.md's prose): each must be the default delays and jitter."""
    assert code_defaults(DispatcherSettings)["retry_delays_seconds"] == (
        DEFAULT_RETRY_DELAYS_SECONDS
    )
    jitter = numeric_default(DispatcherSettings, "retry_jitter")
    header = re.search(r"^\| after attempt \|(.*)\|$", document("docs/delivery.md").prose, re.M)
    assert header, "docs/delivery.md: the schedule table is gone"
    wrong = []
    if [int(n) for n in header.group(1).split("|")] != list(
        range(1, len(DEFAULT_RETRY_DELAYS_SECONDS) + 1)
    ):
        wrong.append(f"docs/delivery.md: after attempts {header.group(1)}")
    for name, pattern in SCHEDULE.items():
        doc = document(name)
        found = re.search(pattern, doc.prose, re.M)
        if found is None:
            wrong.append(f"{name}: the schedule is gone (update SCHEDULE)")
            continue
        cells = [c for c in re.split(r"\s*\|\s*|,\s*|\s+and\s+", found["delays"].strip()) if c]
        stated = [quantity(cell).value for cell in cells]
        where = doc.where(found.start())
        if stated != [float(d) for d in DEFAULT_RETRY_DELAYS_SECONDS]:
            wrong.append(f"{where}: {cells}, code: {DEFAULT_RETRY_DELAYS_SECONDS} s")
        spread = found.groupdict().get("spread")
        if spread is not None and not same(quantity(spread).value, jitter):
            wrong.append(f"{where}: ±{spread}, code: retry_jitter = {jitter}")
    assert not wrong, "\n".join(wrong)
