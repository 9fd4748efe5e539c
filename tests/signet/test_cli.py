"""The ``signet`` command as a user runs it: a real child process, a real broker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from signet.cli import format_ensure_report, main
from signet.dev.broker import EmbeddedBroker
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


def test_verify_log_and_keys_rotate_take_their_own_arguments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["verify-log", "--help"])
    assert exited.value.code == 0
    assert "--public-key" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["keys", "rotate", "--help"])
    assert exited.value.code == 0
    assert "--dry-run" in capsys.readouterr().out
