"""The retry tiers the docs name, and the hops they walk a retry through, are the code's:
``RETRY_TIERS_SECONDS`` and the paths ``schedule.py``'s ``tier_for`` and
``step_at_release`` take.
"""

from __future__ import annotations

import re

from services.dispatcher.schedule import Step, release_at, step_at_release, tier_for
from signet.kafka.topics import RETRY_TIERS_SECONDS, tier_label
from tests.docs.doc_text import document, quantity


def test_the_retry_tiers_the_docs_name_are_the_code_s() -> None:
    labels = [tier_label(seconds) for seconds in RETRY_TIERS_SECONDS]
    delivery = re.search(
        r"never in a sleeping task: `signet\.retry\.(\w+)`((?:,\s*`\.\w+`)+)",
        document("docs/delivery.md").prose,
    )
    architecture = re.search(
        r"The tiers are ((?:`\w+`,?\s*)+)\s*\(`RETRY_TIERS_SECONDS`\)",
        document("docs/architecture.md").prose,
    )
    assert delivery and architecture, "a list of the tiers is gone"
    assert [delivery.group(1), *re.findall(r"`\.(\w+)`", delivery.group(2))] == labels
    assert re.findall(r"`(\w+)`", architecture.group(1)) == labels


def tier_path(delay_seconds: int, *, late_ms: int = 5) -> list[int]:
    """The tiers a retry due in ``delay_seconds`` waits on, as ``schedule.py`` moves it:
    each step happens ``late_ms`` after the one before could (a produce, a poll)."""
    due, now = delay_seconds * 1000, late_ms
    path = [tier_for((due - now) / 1000)]
    while True:
        now = release_at(due, now, path[-1]) + late_ms
        step, tier = step_at_release(due, now)
        if step is not Step.HOP:
            assert step is Step.HOLD, step  # the last few seconds wait in memory
            return path
        path.append(tier)


def test_the_hop_examples_are_what_the_dispatcher_does() -> None:
    """docs/delivery.md walks a 25 s and an 11 h retry through the tiers; the paths are
    those ``tier_for`` and ``step_at_release`` take, whatever the few ms of lateness."""
    prose = document("docs/delivery.md").prose
    short = re.search(
        r"a (\d+ s)\s+retry waits (\d+ s) on `retry\.\w+` (\w+) times \((\w+) hops\)", prose
    )
    long = re.search(r"an?\s+(\d+ h) retry goes ([^,]+?),\s+then memory", prose)
    assert short and long, "docs/delivery.md: the hop examples are gone"
    waits = int(quantity(short.group(3)).value)
    short_path = [int(quantity(short.group(2)).value)] * waits
    long_path: list[int] = []
    for step in re.split(r"\s*\+\s*", long.group(2).strip()):
        amount, _, times = step.partition(" \N{MULTIPLICATION SIGN} ")
        long_path += [int(quantity(amount).value)] * int(times or 1)
    for late_ms in (1, 5, 200):
        path = tier_path(int(quantity(short.group(1)).value), late_ms=late_ms)
        assert (path, len(path) - 1) == (short_path, quantity(short.group(4)).value), (
            f"docs/delivery.md: {short.group(0)!r}, code: the tiers {path}"
        )
        path = tier_path(int(quantity(long.group(1)).value), late_ms=late_ms)
        assert path == long_path, f"docs/delivery.md: {long.group(0)!r}, code: the tiers {path}"
