"""Identifiers: prefixed, 26 Crockford characters, the time first (pure)."""

from __future__ import annotations

import re

from signet_sdk.ids import derived_id, new_id

ID = re.compile(r"[a-z]+_[0-9A-HJKMNP-TV-Z]{26}")
AT = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def test_new_ids_are_unique_and_sort_by_their_time() -> None:
    earlier = [new_id("evt", now_ms=AT) for _ in range(100)]
    later = new_id("evt", now_ms=AT + 1)
    assert all(ID.fullmatch(i) for i in [*earlier, later])
    assert len(set(earlier)) == 100
    assert max(earlier) < later


def test_a_derived_id_is_the_same_for_the_same_parts_and_time() -> None:
    first = derived_id("dlv", "evt_1", "dst_1", at_ms=AT)
    assert ID.fullmatch(first)
    assert first == derived_id("dlv", "evt_1", "dst_1", at_ms=AT)
    others = {
        derived_id("dlv", "evt_1", "dst_2", at_ms=AT),
        derived_id("dlv", "evt_2", "dst_1", at_ms=AT),
        derived_id("dlv", "evt_1", "dst_1", at_ms=AT + 1),
        first,
    }
    assert len(others) == 4
    # The separator keeps ("evt_1", "1dst") and ("evt_11", "dst") apart.
    assert derived_id("dlv", "evt_1", "1dst", at_ms=AT) != derived_id(
        "dlv", "evt_11", "dst", at_ms=AT
    )


def test_derived_ids_sort_by_time_with_new_ids() -> None:
    # The same time prefix as new_id's: an index over either kind grows at its end.
    derived = derived_id("dlv", "evt_1", "dst_1", at_ms=AT)
    made = new_id("dlv", now_ms=AT)
    assert derived[:14] == made[:14]
    assert derived < derived_id("dlv", "evt_0", "dst_0", at_ms=AT + 1)


def test_any_time_a_record_can_hold_still_makes_a_valid_id() -> None:
    for at in (-1, 0, 1 << 48, 1 << 62):
        assert ID.fullmatch(derived_id("dlv", "evt_1", "dst_1", at_ms=at))
    assert derived_id("dlv", "e", "d", at_ms=-5) == derived_id("dlv", "e", "d", at_ms=0)
