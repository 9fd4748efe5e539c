"""The ``signet`` command: as a user runs it (a real child process, a real broker), and its
command tree in process: ``--help`` everywhere, the options each command takes, usage errors."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signet.cli import LISTEN_SECRET_ENV, cli, format_ensure_report, main
from signet.dev import demo
from signet.dev.broker import EmbeddedBroker
from signet.dev.devstack import listener
from signet.errors import ConfigurationError
from signet.kafka.topics import EnsureReport, topic_specs
from signet.settings import CommonSettings


def signet(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "signet.cli", *args],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_topics_ensure_creates_once_then_finds_everything(broker: EmbeddedBroker) -> None:
    prefix = f"cli{uuid.uuid4().hex[:6]}."
    env = {"SIGNET_TOPIC_PREFIX": prefix, "SIGNET_PARTITIONS": "3"}
    names = [s.name for s in topic_specs(CommonSettings(topic_prefix=prefix))]

    first = signet("topics", "ensure", "--bootstrap", broker.bootstrap, env=env)
    assert first.returncode == 0, first.stderr
    for name in names:
        assert f"created  {name}  partitions=" in first.stdout
    assert f"created  {prefix}events  partitions=3 policy=delete" in first.stdout
    assert f"created  {prefix}workspace-config  partitions=3 policy=compact" in first.stdout
    assert f"{len(names)} created, 0 already there, 0 partition mismatch(es)" in first.stdout

    second = signet("topics", "ensure", "--bootstrap", broker.bootstrap, env=env)
    assert second.returncode == 0, second.stderr
    assert "created " not in second.stdout
    assert f"0 created, {len(names)} already there, 0 partition mismatch(es)" in second.stdout


def test_topics_ensure_fails_when_copartitioned_topics_disagree(broker: EmbeddedBroker) -> None:
    prefix = f"cli{uuid.uuid4().hex[:6]}."
    base = {"SIGNET_TOPIC_PREFIX": prefix, "SIGNET_KAFKA_BOOTSTRAP": broker.bootstrap}
    assert signet("topics", "ensure", env={**base, "SIGNET_PARTITIONS": "3"}).returncode == 0

    fanout_env = {**base, "SIGNET_PARTITIONS": "3", "SIGNET_DELIVERIES_PARTITIONS": "2"}
    other_fanout = signet("topics", "ensure", env=fanout_env)
    assert other_fanout.returncode == 0  # deliveries is not co-partitioned: a warning only
    assert f"MISMATCH {prefix}deliveries: settings say 2 partitions, the topic has 6" in (
        other_fanout.stdout
    )

    mismatch = signet("topics", "ensure", env={**base, "SIGNET_PARTITIONS": "4"})
    assert mismatch.returncode == 1
    assert f"MISMATCH {prefix}events: settings say 4 partitions, the topic has 3" in mismatch.stdout
    assert "must have the same partition count" in mismatch.stdout


def test_report_formatting_flags_only_copartitioned_mismatches() -> None:
    settings = CommonSettings(topic_prefix="x.")
    lines, broken = format_ensure_report(
        EnsureReport(existing=["x.dlq"], partition_mismatch={"x.dlq": (6, 1)}), settings
    )
    assert not broken
    assert "MISMATCH x.dlq: settings say 6 partitions, the topic has 1" in lines
    _, broken = format_ensure_report(
        EnsureReport(partition_mismatch={"x.workspace-config": (6, 2)}), settings
    )
    assert broken


def test_up_refuses_a_taken_ingest_port_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = signet("up", env={"SIGNET_INGEST_PORT": str(port)}, cwd=tmp_path)
    assert result.returncode == 1
    assert f"port {port} (ingest port) is taken" in result.stdout
    assert "SIGNET_INGEST_PORT" in result.stdout


def test_up_reports_an_invalid_setting(tmp_path: Path) -> None:
    result = signet("up", env={"SIGNET_PORTAL_PORT": "eighty"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid SIGNET_* setting" in result.stderr and "portal_port" in result.stderr


def test_usage_errors_exit_2() -> None:
    assert signet().returncode == 2
    assert signet("topics").returncode == 2


# -- the command tree, in process (click's CliRunner; nothing here starts a stack) ----------

# The contract: each command path and the options it takes (black-box tests rely on them).
COMMANDS: dict[tuple[str, ...], set[str]] = {
    ("up",): {"--fresh"},
    ("demo",): {"--record"},
    ("topics",): set(),
    ("topics", "ensure"): {"--bootstrap"},
    ("listen",): {"--host", "--port", "--secret"},
    ("verify-log",): {"--public-key", "--portal-url"},
    ("keys",): set(),
    ("keys", "rotate"): {"--dry-run", "--bootstrap"},
}


def invoke(*args: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=stdin, prog_name="signet")


def walk(group: click.Group, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    found: dict[tuple[str, ...], click.Command] = {}
    for name, command in group.commands.items():
        found[(*path, name)] = command
        if isinstance(command, click.Group):
            found |= walk(command, (*path, name))
    return found


def test_the_tree_is_the_documented_contract() -> None:
    tree = walk(cli)
    assert set(tree) == set(COMMANDS)
    for path, command in tree.items():
        options = {o for p in command.params for o in p.opts if o.startswith("--")}
        assert options == COMMANDS[path], path


def test_help_lists_every_command_on_one_line_each() -> None:
    result = invoke("--help")
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == [
        "up",
        "demo",
        "topics",
        "listen",
        "verify-log",
        "keys",
    ]
    for line in listed:  # a name and its help, not cut short (a wrapped line fails above)
        assert len(line.split(maxsplit=1)) == 2 and "..." not in line, line
    assert invoke("-h").output == result.output


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_each_command_answers_help_with_its_options(path: tuple[str, ...]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: signet {' '.join(path)} ")
    for option in COMMANDS[path]:
        assert option in result.output, option
    for sub in (p[-1] for p in COMMANDS if p[:-1] == path):
        assert f"  {sub}  " in result.output  # groups list their subcommands


def test_listen_help_names_the_secret_s_variable_not_its_value() -> None:
    result = invoke("listen", "--help", env={LISTEN_SECRET_ENV: "whsec_c2VjcmV0"})
    assert LISTEN_SECRET_ENV in result.output
    assert "whsec_c2VjcmV0" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Missing command"),
        (("topics",), "Missing command"),
        (("keys",), "Missing command"),
        (("nope",), "No such command 'nope'"),
        (("topics", "create"), "No such command 'create'"),
        (("up", "--bogus"), "No such option: --bogus"),
        (("keys", "rotate", "--dry-run", "yes"), "unexpected extra argument"),
        (("listen", "--port", "x"), "'x' is not a valid integer"),
        (("demo", "--record"), "Option '--record' requires an argument"),
        (("verify-log",), "Missing argument 'FILE'"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else None,
)
def test_usage_errors_say_what_is_wrong_and_exit_2(args: tuple[str, ...], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output.partition("Error: ")[2]  # said in click's error line


@pytest.mark.parametrize(
    "args", [("export.jsonl",), ("-",), ("-", "--public-key", "K", "--portal-url", "http://x")]
)
def test_verify_log_needs_exactly_one_key_source(args: tuple[str, ...]) -> None:
    result = invoke("verify-log", *args, stdin=b"")
    assert result.exit_code == 2, result.output
    assert "--public-key" in result.output and "--portal-url" in result.output


def test_verify_log_reads_standard_input(tmp_path: Path) -> None:
    key = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    result = invoke("verify-log", "-", "--public-key", key.decode(), stdin=b"")
    assert result.exit_code == 1  # read and judged: an empty export has no signed head
    assert "FAILED at the head line: the export is empty: missing head" in result.output
    missing = invoke("verify-log", str(tmp_path / "none.jsonl"), "--public-key", key.decode())
    assert missing.exit_code == 2
    assert "signet verify-log: [Errno 2] No such file or directory" in missing.output


def test_keys_rotate_reports_a_bad_key_ring_before_reaching_kafka() -> None:
    result = invoke("keys", "rotate", "--dry-run", env={"SIGNET_MASTER_KEYS": "nope"})
    assert result.exit_code == 2
    assert "signet keys rotate: master key entries look like" in result.output


def test_listen_takes_its_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int, str | None]] = []

    def run_listener(host: str, port: int, secret: str | None) -> int:
        calls.append((host, port, secret))
        return 0

    monkeypatch.setattr(listener, "run_listener", run_listener)
    assert invoke("listen").exit_code == 0
    assert invoke("listen", "--port", "0", env={LISTEN_SECRET_ENV: "whsec_env"}).exit_code == 0
    given = ("listen", "--host", "::1", "--secret", "whsec_arg")
    assert invoke(*given, env={LISTEN_SECRET_ENV: "whsec_env"}).exit_code == 0
    assert calls == [
        ("127.0.0.1", 9000, None),
        ("127.0.0.1", 0, "whsec_env"),
        ("::1", 9000, "whsec_arg"),
    ]


# -- main(): what the console script runs --------------------------------------------------


def test_main_returns_the_command_s_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    records: list[str | None] = []

    def run_demo(record: str | None = None) -> int:
        records.append(record)
        return 1

    monkeypatch.setattr(demo, "run_demo", run_demo)
    assert main(["demo", "--record", "demo.svg"]) == 1
    assert main(["demo"]) == 1
    assert records == ["demo.svg", None]

    assert main(["verify-log", "--help"]) == 0
    assert "--public-key" in capsys.readouterr().out
    assert main(["keys", "rotate", "--help"]) == 0
    assert "--dry-run" in capsys.readouterr().out
    assert main(["verify-log", "export.jsonl"]) == 2  # a usage error, not a SystemExit
    assert "give exactly one of --public-key KEY or --portal-url URL" in capsys.readouterr().err
    assert main([]) == 2


def test_main_reports_a_signet_error_and_gives_back_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fails(record: str | None = None) -> int:
        raise ConfigurationError("no broker to talk to")

    monkeypatch.setattr(demo, "run_demo", fails)
    assert main(["demo"]) == 1
    assert capsys.readouterr().err == "signet: no broker to talk to\n"

    def interrupted(record: str | None = None) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run_demo", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["demo"])
