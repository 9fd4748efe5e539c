"""Every relative link in README.md and docs/ resolves inside the repository.

A link is a markdown ``[text](path)``, an image ``![alt](path)``, a reference definition
``[name]: path``, or a path named in prose with an anchor (``docs/delivery.md#delay-tiers``,
read from the repository root, as code comments name files). Its path must stay inside
the repository and exist; an ``#anchor`` into a markdown file must match one of its
headings as GitHub slugs them. Comments in the code that point into ``docs/`` are held to
the same rule, so a renamed heading cannot leave them dangling.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCE_DIRS = ("signet", "services", "deploy", "bench", "examples", "tests")
SOURCE_SUFFIXES = {".py", ".js", ".html", ".css", ".yaml", ".yml", ".tpl", ".txt"}

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
# [text](target "title") and ![alt](target); text may hold one level of brackets.
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]"  # [text] or ![alt]
    r"\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"  # (target "title")
)
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
PROSE_REFERENCE = re.compile(r"(?<![\w/.#-])((?:[\w.-]+/)*[\w.-]+\.md)#([\w-]+)")
DOCS_REFERENCE = re.compile(r"(?<![\w/.-])(docs/[\w.-]+\.md)(?:#([\w-]+))?")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
HTML_ANCHOR = re.compile(r"<a\s+(?:[^>]*\s)?(?:id|name)=\"([^\"]+)\"", re.I)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")


@dataclass(slots=True, frozen=True)
class Link:
    source: Path
    target: str  # as written: path, path#anchor or #anchor
    base: Path  # the directory a relative path is read from

    def __str__(self) -> str:
        return f"{self.source.relative_to(ROOT)}: {self.target}"


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text lower-cased, punctuation dropped,
    each space a hyphen (duplicates are numbered by :func:`anchors`)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    kept = (
        ch for ch in text.strip().lower() if ch in " -_" or unicodedata.category(ch)[0] in "LMN"
    )
    return "".join(kept).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """Every anchor a markdown file offers: its headings' slugs, numbered on repeats as
    GitHub numbers them (``-1``, ``-2``), and explicit ``<a id=…>`` anchors."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: Counter[str] = Counter()
    found = set(HTML_ANCHOR.findall(text))
    for _, heading in HEADING.findall(text):
        slug = github_slug(heading)
        found.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return frozenset(found)


def links_in(document: Path) -> list[Link]:
    text = FENCE.sub("", document.read_text(encoding="utf-8"))
    found = [
        Link(document, target, document.parent)
        for target in INLINE_LINK.findall(INLINE_CODE.sub("", text)) + REFERENCE.findall(text)
        if not SCHEME.match(target)
    ]
    prose = INLINE_LINK.sub("", text)  # what is left of a line once its links are gone
    found += [
        Link(document, f"{path}#{anchor}", ROOT) for path, anchor in PROSE_REFERENCE.findall(prose)
    ]
    return found


def source_files() -> list[Path]:
    return sorted(
        path
        for folder in SOURCE_DIRS
        for path in (ROOT / folder).rglob("*")
        if path.suffix in SOURCE_SUFFIXES and path.is_file() and "__pycache__" not in path.parts
    )


def docs_references_in(path: Path) -> list[Link]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [
        Link(path, f"{doc}#{anchor}" if anchor else doc, ROOT)
        for doc, anchor in DOCS_REFERENCE.findall(text)
    ]


def problem(link: Link) -> str | None:
    """Why ``link`` does not resolve, or None when it does."""
    path_part, _, anchor = link.target.partition("#")
    if path_part:
        lexical = Path(os.path.normpath(link.base / path_part))
        if not lexical.is_relative_to(ROOT) or not lexical.resolve().is_relative_to(ROOT):
            return "points outside the repository"
        if not lexical.exists():
            return "no such file"
        target = lexical
    else:
        target = link.source
    if anchor and target.suffix == ".md" and anchor not in anchors(target.resolve()):
        return f"no heading with the anchor #{anchor} in {target.relative_to(ROOT)}"
    return None


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    broken = [f"{link}  ({why})" for link in links_in(document) if (why := problem(link))]
    assert not broken, "\n".join(broken)


def test_the_checker_sees_the_links() -> None:
    readme = links_in(ROOT / "README.md")
    assert len(readme) >= 10, readme
    assert any(link.target == "docs/architecture.md" for link in readme)
    prose = links_in(ROOT / "docs" / "architecture.md")
    assert any("#" in link.target and link.target.startswith("#") for link in prose)


def test_code_comments_pointing_into_docs_resolve() -> None:
    references = [ref for path in source_files() for ref in docs_references_in(path)]
    assert references, "no reference into docs/ found in the code"
    broken = [f"{ref}  ({why})" for ref in references if (why := problem(ref))]
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("6. When Kafka is unavailable", "6-when-kafka-is-unavailable"),
        ("`POST /v1/workspaces`", "post-v1workspaces"),
        ("The postMessage protocol (version 1)", "the-postmessage-protocol-version-1"),
        (
            "`GET /v1/workspace/destinations/{destination_id}` (admin)",
            "get-v1workspacedestinationsdestination_id-admin",
        ),
        ("Replays, test events and rotation", "replays-test-events-and-rotation"),
        ("Goals (issue 7) and where we are", "goals-issue-7-and-where-we-are"),
        ("[Rate limit](#rate-limit) — per destination", "rate-limit--per-destination"),
    ],
)
def test_headings_slug_as_on_github(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_repeated_headings_are_numbered(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Metrics\n\n```\n## not a heading\n```\n\n## Metrics\n")
    assert anchors(page) == {"title", "metrics", "metrics-1"}
