"""Every ``signet …`` command line and ``make …`` target README.md and docs/*.md show exists.

A command line is found where a shell would see a command: at the start of an inline code
span or of a line in a fenced block, after a ``$ `` prompt, ``VAR=value`` assignments, or
``&&``, ``||``, ``;``, a pipe or ``(``. ``signet`` may be spelled ``.venv/bin/signet`` (any
path ending in ``/signet``) or ``python -m signet.cli``. Nothing is run: each line is
checked against the click command tree (the path names commands, every ``--option`` is
one of that command's) and each ``make`` target against the Makefile's rules. A ``|``
followed by an option reads as "or" (``--public-key … | --portal-url …``), not a pipe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from signet.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
# Where one command ends and the next may begin; `|` before an option is "or", not a pipe.
SEPARATOR = re.compile(r"&&|\|\||;|\|(?!\s*-)|\$\(|[()]")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*")
MAKE_RULE = re.compile(r"^([A-Za-z0-9][\w.-]*)[ \t]*:(?!=)", re.M)


@dataclass(slots=True, frozen=True)
class Shown:
    """One command line as a doc shows it: ``program`` is ``signet`` or ``make``."""

    where: str  # "docs/operations.md:40"
    program: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: {' '.join((self.program, *self.args))}"


def code_texts(text: str) -> list[tuple[int, str]]:
    """(line number, code) for each fenced-block line and each inline code span."""
    found: list[tuple[int, str]] = []
    for block in FENCE.finditer(text):
        first = text.count("\n", 0, block.start(2)) + 1
        pending, start = "", first
        for offset, line in enumerate(block.group(2).splitlines()):
            if not pending:
                start = first + offset
            if line.endswith("\\"):  # the command goes on on the next line
                pending += line[:-1] + " "
                continue
            found.append((start, re.sub(r"(^|\s)#.*", "", pending + line)))  # no comment
            pending = ""
    prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for span in INLINE_CODE.finditer(prose):
        found.append((prose.count("\n", 0, span.start()) + 1, span.group(2).replace("\n", " ")))
    return found


def commands_in(code: str) -> list[tuple[str, tuple[str, ...]]]:
    """The ``signet`` and ``make`` commands in one piece of code, with their arguments."""
    found = []
    for segment in SEPARATOR.split(code):
        words = segment.split()
        if words[:1] == ["$"]:  # a shell prompt
            words = words[1:]
        while words and ASSIGNMENT.fullmatch(words[0]):
            words = words[1:]
        if not words:
            continue
        if words[0] == "signet" or words[0].endswith("/signet"):
            found.append(("signet", tuple(words[1:])))
        elif re.fullmatch(r"(\S*/)?python(3(\.\d+)?)?", words[0]) and words[1:3] == [
            "-m",
            "signet.cli",
        ]:
            found.append(("signet", tuple(words[3:])))
        elif words[0] == "make":
            found.append(("make", tuple(words[1:])))
    return found


def shown_commands(path: Path) -> list[Shown]:
    name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    return [
        Shown(f"{name}:{number}", program, args)
        for number, code in code_texts(path.read_text(encoding="utf-8"))
        for program, args in commands_in(code)
    ]


def make_targets(makefile: Path = ROOT / "Makefile") -> set[str]:
    return set(MAKE_RULE.findall(makefile.read_text(encoding="utf-8"))) - {".PHONY"}


def problems(shown: Shown, targets: set[str]) -> list[str]:
    """What is wrong with a shown command line; empty when the command and options exist."""
    if shown.program == "make":
        return [
            f"no make target {word!r}"
            for word in shown.args
            if not word.startswith("-") and "=" not in word and word not in targets
        ]
    command: click.Command = cli
    context = click.Context(cli, info_name="signet", **cli.context_settings)
    words = list(shown.args)
    # The command path: words naming a subcommand of the group reached so far.
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        sub = command.get_command(context, words[0])
        if sub is None:
            return [f"{context.command_path} has no command {words[0]!r}"]
        command, context = sub, click.Context(sub, parent=context, info_name=words.pop(0))
    options = {name for param in command.get_params(context) for name in param.opts}
    return [
        f"{context.command_path} has no option {word.split('=')[0]}"
        for word in words
        if word.startswith("-") and word != "-" and word.split("=")[0] not in options
    ]


SHOWN = [shown for path in DOC_FILES for shown in shown_commands(path)]


@pytest.mark.parametrize("shown", SHOWN, ids=str)
def test_the_command_shown_exists(shown: Shown) -> None:
    assert problems(shown, make_targets()) == []


def test_the_docs_show_commands_and_targets() -> None:
    """The extraction finds what we know is there (else every check above passes vacuously)."""
    lines = {str(shown).split(": ", 1)[1] for shown in SHOWN}
    assert "signet topics ensure" in lines
    assert "signet verify-log FILE --portal-url http://127.0.0.1:8081" in lines
    assert "signet --help" in lines
    assert {"make run", "make test", "make demo", "make help"} <= lines
    assert "signet create secret generic signet-keys" not in lines  # `kubectl -n signet …`


def test_a_made_up_command_option_or_target_fails(tmp_path: Path) -> None:
    doc = tmp_path / "fake.md"
    doc.write_text(
        "Run `signet verify-log FILE --public-key … | --portal-url …` or\n"
        "`SIGNET_X=1 .venv/bin/signet keys rotate --dry-run && make run`.\n\n"
        "```console\n"
        "$ signet listen --port 0 --secret-file s.txt   # the option is made up\n"
        "$ python -m signet.cli topics create\n"
        "make deploy\n"
        "```\n"
        "`kubectl -n signet create secret generic x` and `signet frobnicate`.\n",
        encoding="utf-8",
    )
    found = {
        str(shown): problems(shown, make_targets())
        for shown in shown_commands(doc)
        if problems(shown, make_targets())
    }
    assert found == {
        "fake.md:5: signet listen --port 0 --secret-file s.txt": [
            "signet listen has no option --secret-file"
        ],
        "fake.md:6: signet topics create": ["signet topics has no command 'create'"],
        "fake.md:7: make deploy": ["no make target 'deploy'"],
        "fake.md:9: signet frobnicate": ["signet has no command 'frobnicate'"],
    }
    assert len(shown_commands(doc)) == 7  # the four above, verify-log, keys rotate, make run
