"""docs/architecture.md's table of the schema history names every file kept there, and
only those: the table is how a reader learns which change each old version predates."""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs.doc_text import document

HISTORY = Path(__file__).resolve().parents[2] / "signet" / "records" / "schemas" / "history"


def test_the_history_table_lists_every_kept_schema() -> None:
    text = document("docs/architecture.md").text
    table = text[text.index("| file | the version before |") :]
    table = table[: table.index("\n\n")]
    listed = set(re.findall(r"^\| `(signet\.\w+\.v\d+)` \|", table, flags=re.MULTILINE))
    kept = {path.name.removesuffix(".avsc") for path in HISTORY.glob("*.avsc")}
    assert kept, f"no schema history in {HISTORY}"
    assert listed == kept, f"table only: {listed - kept}; history only: {kept - listed}"
