"""Every range README.md and docs/*.md state is the code's.

Each phrase of :data:`tests.docs.documented_ranges.RANGES` must still be there and say
the code's numbers (units converted: "30 s", "64 KiB").
"""

from __future__ import annotations

from tests.docs.doc_text import document, quantity, same
from tests.docs.documented_ranges import RANGES, spans


def test_each_documented_range_is_the_code_s() -> None:
    wrong: list[str] = []
    for entry in RANGES:
        doc = document(entry.doc)
        found = list(spans(doc, entry.pattern, text=entry.text))
        if not found:
            wrong.append(f"{entry.doc}: no longer says /{entry.pattern}/ (update RANGES)")
        for match in found:
            stated = [quantity(group) for group in match.groups()]
            if len(stated) != len(entry.code) or not all(
                same(s.value, float(c)) for s, c in zip(stated, entry.code, strict=False)
            ):
                wrong.append(
                    f"{doc.where(match.start())}: says {match.groups()}, "
                    f"code: {tuple(entry.code)} ({entry.constant})"
                )
    assert not wrong, "\n".join(wrong)
