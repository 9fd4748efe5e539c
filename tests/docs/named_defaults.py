"""A default a doc states beside a setting's name, read, and whose setting it speaks of.

The forms the docs use are read wherever they appear: a settings table's ``default``
column (``| `SIGNET_X` | 5 | … |``), the value after the name (```SIGNET_X` (5 s)``,
```SIGNET_X`, 20 ms by default``, ```SIGNET_X`, default `uvloop```) and the value before
it (``8082 (`SIGNET_METRICS_PORT`)``, ``a 20 ms wait (`SIGNET_FETCH_WAIT_MAX_MS`)``). A
name shared by several processes is judged against the processes its table row,
paragraph or section names (or the document's opening sentence, when it names one), else
against every process that has it (:func:`whose`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic_settings import BaseSettings

from tests.docs.doc_text import NUMBER, QUANTITY, Document
from tests.docs.settings_index import (
    FIELD_UNITS,
    Setting,
    process_words,
    settings_classes,
    settings_named,
)

NAMED = r"`(?P<env>SIGNET_[A-Z0-9_]+)`"
# The value after the name: "(5 s)", ", 5 s)", "(2048, the same…", ", 20 ms by default",
# ", 10 s for the dispatcher", ", default `uvloop`", ", `signet.` by default".
AFTER = re.compile(
    NAMED
    + r"\s*(?:\(|,|\s+defaults\s+to)\s*(?:"
    + rf"(?:default\s+)?(?P<quantity>{QUANTITY})(?=\s*[),;]|\s+by\s+default|\s+for\s)"
    + r"|default\s+`(?P<literal>[^`\n]*)`"
    + r"|`(?P<by_default>[^`\n]*)`\s+by\s+default)"
)
# The value before the name: "8082 (`SIGNET_METRICS_PORT`)", "4 MiB ahead\n(`SIGNET_…`;".
BEFORE = re.compile(rf"(?P<quantity>{QUANTITY})(?:[ \t]+[a-z]+)?\s*\(\s*{NAMED}\s*[);]")
# Where a paragraph ends: a blank line, a list item, a table row.
PARAGRAPH = re.compile(r"\n(?=\s*\n|\s*(?:[-*+]|\d+\.)\s|\s*\|)")
# What looks like a value after a name: every such place must be read by AFTER.
VALUE_AFTER = re.compile(NAMED + rf"\s*[(,]\s*(?:default\b|{NUMBER})")


@dataclass(slots=True, frozen=True)
class StatedDefault:
    """A default a doc states for a named setting, and where."""

    doc: Document
    offset: int
    env: str
    value: str

    @property
    def where(self) -> str:
        return self.doc.where(self.offset)

    def contexts(self) -> list[str]:
        """What may say whose setting this is, nearest first: the table row it sits in
        or its paragraph (a list item is one), its section's heading, and the document's
        opening sentence when that names one process ("How the dispatcher …")."""
        doc, found = self.doc, []
        line = doc.line_text(doc.line(self.offset))
        if line.lstrip().startswith("|"):
            found.append(line.strip().strip("|").split("|")[0])
        else:
            starts = [m.end() for m in PARAGRAPH.finditer(doc.prose, 0, self.offset)]
            start = starts[-1] if starts else 0
            end = PARAGRAPH.search(doc.prose, self.offset)
            found.append(doc.prose[start : end.start() if end else None])
        found.append(doc.heading_at(self.offset))
        opening = [*doc.prose.split("\n\n"), ""][1].split(". ")[0]
        if len([c for c in settings_classes() if names_process(opening, c)]) == 1:
            found.append(opening)
        return found


def stated_defaults(doc: Document) -> Iterator[StatedDefault]:
    prose = doc.prose
    for found in AFTER.finditer(prose):
        value = found["quantity"] or found["literal"] or found["by_default"] or ""
        yield StatedDefault(doc, found.start(), found["env"], value)
    for found in BEFORE.finditer(prose):
        yield StatedDefault(doc, found.start("env") - 1, found["env"], found["quantity"])
    for table in doc.tables():
        column = table.column("default")
        if column is None:
            continue
        for row in table.rows:
            named = re.fullmatch(NAMED, row.cells[0])
            if named and column < len(row.cells):
                offset = prose.index(row.cells[0], doc.offset_of_line(row.line))
                yield StatedDefault(doc, offset, named["env"], row.cells[column])


def names_process(text: str, cls: type[BaseSettings]) -> bool:
    return any(re.search(rf"\b{re.escape(w)}\b", text.lower()) for w in process_words(cls))


def whose(stated: StatedDefault) -> list[Setting]:
    """The settings a stated default speaks of: those of the processes its nearest
    context names (:meth:`StatedDefault.contexts`), else every process that has it."""
    candidates = settings_named(stated.env)
    for context in stated.contexts():
        named = [s for s in candidates if names_process(context, s.owner)]
        if named:
            return named
    return candidates


def describe(setting: Setting) -> str:
    value = setting.default
    unit = next((suffix for suffix in FIELD_UNITS if setting.field.endswith(suffix)), "")
    return f"{setting} = {value!r}{' (' + unit.lstrip('_') + ')' if unit else ''}"
