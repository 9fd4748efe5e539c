"""Every file README.md and docs/ name in code spans is one the repository has.

A page names files two ways: a path (`services/dispatcher/fifo.py`, or its tail,
`delivery_log/retention.py`) or a bare name (`signing_keys.py`). A path must be the tail of
a tracked file's path, a bare name the name of one, so a renamed or deleted module cannot
stay named in a page (links are test_links.py's). URL paths (`/openapi.json`), the dev
stack's runtime files (`.signet/…`) and the third-party tools named like files are not
the repository's.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.docs.doc_text import documents

ROOT = Path(__file__).resolve().parents[2]
NAMED = re.compile(r"`([\w./-]+\.(?:py|js|avsc|yaml|yml|sh|toml))`")
NOT_OURS = {"proxy.py"}  # the forward proxy the egress tests run (a PyPI package)


SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".signet", ".mypy_cache"}


def repository_files() -> list[str]:
    """Every file's path from the root, without installed or generated trees."""
    found = []
    for directory, subdirectories, names in os.walk(ROOT):
        subdirectories[:] = [d for d in subdirectories if d not in SKIPPED_DIRS]
        relative = Path(directory).relative_to(ROOT)
        found += [(relative / name).as_posix() for name in names]
    return found


def test_every_named_file_exists() -> None:
    files = repository_files()
    names = {path.rsplit("/", 1)[-1] for path in files}
    missing = []
    for doc in documents():
        for match in NAMED.finditer(doc.text):
            named = match.group(1)
            if named in NOT_OURS or named.startswith(("/", ".signet/")):
                continue
            found = (
                any(path == named or path.endswith("/" + named) for path in files)
                if "/" in named
                else named in names
            )
            if not found:
                missing.append(f"{doc.where(match.start())}: `{named}`")
    assert not missing, "named in the docs, not in the repository:\n" + "\n".join(missing)
