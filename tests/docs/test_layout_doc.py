"""docs/architecture.md's table of ``signet/``'s packages names every package there: a
package added without a row is one a newcomer reading the page never hears of."""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs.doc_text import document

SIGNET = Path(__file__).resolve().parents[2] / "signet"


def test_every_package_of_signet_has_a_row() -> None:
    text = document("docs/architecture.md").text
    table = text[text.index("| package | what it holds |") :]
    table = table[: table.index("\n\n")]
    listed = set(re.findall(r"^\| \[`signet/(\w+)/`\]", table, flags=re.MULTILINE))
    packages = {p.parent.name for p in SIGNET.glob("*/__init__.py")}
    assert packages, f"no packages under {SIGNET}"
    assert listed == packages, (
        f"table only: {listed - packages}; not in the table: {packages - listed}"
    )
