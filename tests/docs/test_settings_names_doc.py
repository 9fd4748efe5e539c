"""The ``SIGNET_*`` names the docs use are the code's, and settings tables describe them.

- Every ``SIGNET_*`` name anywhere in the docs is a field of a settings class in
  ``signet/settings.py``, a name some code reads from the environment itself, or a
  placeholder a command's help shows (``tests/docs/settings_index.py`` collects all three
  from the code).
- A settings table describes each setting in words of its own name.
"""

from __future__ import annotations

import re

from tests.docs.doc_text import documents
from tests.docs.named_defaults import NAMED
from tests.docs.settings_index import (
    ENV_NAME,
    FIELD_UNITS,
    names_read_directly,
    placeholder_names,
    settings,
)

# -- 1. names -------------------------------------------------------------------------------


def test_every_signet_name_in_the_docs_is_one_the_code_reads() -> None:
    known = {s.env for s in settings()} | names_read_directly() | placeholder_names()
    unknown = [
        f"{doc.where(found.start())}: {found.group(0)}"
        for doc in documents()
        for found in ENV_NAME.finditer(doc.text)
        if found.group(0) not in known
    ]
    assert not unknown, "not a setting nor a name the code reads:\n" + "\n".join(unknown)


def test_the_code_s_names_are_collected() -> None:
    """The collectors find what they are for, so an empty set cannot pass the test above."""
    assert "SIGNET_LISTEN_SECRET" in names_read_directly()  # signet/cli.py, through a constant
    assert "SIGNET_NAME" in placeholder_names()  # bench's --set metavar
    envs = {s.env for s in settings()}
    assert {"SIGNET_KAFKA_BOOTSTRAP", "SIGNET_MAX_IN_FLIGHT", "SIGNET_WEB_PORT"} <= envs


# -- 5. settings tables ---------------------------------------------------------------------

UNIT_WORDS = {suffix.lstrip("_") for suffix in FIELD_UNITS} | {"max", "min"}


def test_a_settings_table_describes_each_setting_in_its_own_words() -> None:
    """In a table with a ``setting`` column, each row's description shares a word stem
    with the setting's name (units aside): swapping two rows, or describing a setting
    under another's name, fails."""
    wrong, rows = [], 0
    for doc in documents():
        for table in doc.tables():
            if table.column("setting") is None:
                continue
            for row in table.rows:
                named = re.fullmatch(NAMED, row.cells[table.column("setting") or 0])
                if not named:
                    wrong.append(f"{doc.name}:{row.line}: no `SIGNET_*` setting: {row.cells}")
                    continue
                rows += 1
                stems = {
                    word[:5]
                    for word in named["env"].removeprefix("SIGNET_").lower().split("_")
                    if word not in UNIT_WORDS and len(word) > 2
                }
                description = row.cells[-1].lower()
                if not any(stem in description for stem in stems):
                    wrong.append(
                        f"{doc.name}:{row.line}: {named['env']} described as {row.cells[-1]!r}"
                    )
    assert rows, "no settings table found"
    assert not wrong, "\n".join(wrong)
