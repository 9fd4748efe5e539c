"""The saved copy of the setup: its file format, atomic writes, tombstones, which topics."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from signet.dev.devstack import snapshot as snapshot_module
from signet.dev.devstack.restore import RestoreReport
from signet.dev.devstack.snapshot import (
    LatestRecords,
    Snapshot,
    SnapshotFileError,
    StoredRecord,
    compacted_topics,
    decode,
    encode,
    read_snapshot,
    remove_snapshot,
    write_snapshot,
)
from signet.kafka.topics import Topics, TopicSpec, topic_specs
from signet.settings import CommonSettings

CONFIG = "signet.workspace-config"


def record(key: bytes = b"ws_1", value: bytes = b"v1", **overrides: object) -> StoredRecord:
    values: dict[str, object] = {
        "topic": CONFIG,
        "partition": 2,
        "offset": 7,
        "key": key,
        "value": value,
        "headers": (("signet-h", b"\x00\xff"), ("empty", None)),
        "timestamp": 1_760_000_000_123,
    }
    values.update(overrides)
    return StoredRecord(**values)  # type: ignore[arg-type]


def test_compacted_topics_come_from_the_specs() -> None:
    settings = CommonSettings(topic_prefix="p.")
    topics = Topics.from_settings(settings)
    assert compacted_topics(settings) == [
        topics.workspace_config,
        topics.event_types,
        topics.operator_webhook,
    ]


def test_a_compacted_topic_added_later_is_kept_without_a_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def with_another(settings: CommonSettings) -> list[TopicSpec]:
        return [
            *topic_specs(settings),
            TopicSpec("p.future-config", 6, {"cleanup.policy": "compact,delete"}),
        ]

    monkeypatch.setattr(snapshot_module, "topic_specs", with_another)
    assert compacted_topics(CommonSettings(topic_prefix="p.")) == [
        "p.workspace-config",
        "p.event-types",
        "p.operator-webhook",
        "p.future-config",
    ]


def test_the_file_round_trips_every_byte() -> None:
    saved = Snapshot(
        records=(
            record(),
            record(key=b"\xff\x00", value=b"\x00" * 3, headers=(), timestamp=None, partition=0),
        ),
        partitions={CONFIG: 6},
        saved_at=1_760_000_000_999,
    )
    back = decode(encode(saved))
    assert back.partitions == {CONFIG: 6}
    assert back.saved_at == saved.saved_at
    # In (topic, partition, offset) order, whatever order they were kept in.
    assert back.records == (saved.records[1], saved.records[0])


@given(
    key=st.binary(min_size=1, max_size=64),
    value=st.binary(max_size=256),
    headers=st.lists(st.tuples(st.text(max_size=10), st.none() | st.binary(max_size=16))),
    timestamp=st.none() | st.integers(min_value=0, max_value=2**62),
)
def test_any_record_round_trips(
    key: bytes, value: bytes, headers: list[tuple[str, bytes | None]], timestamp: int | None
) -> None:
    one = record(key=key, value=value, headers=tuple(headers), timestamp=timestamp)
    assert decode(encode(Snapshot((one,), {CONFIG: 1}))).records == (one,)


def test_the_first_line_says_format_and_version() -> None:
    header = orjson.loads(encode(Snapshot((record(),), {CONFIG: 6})).split(b"\n")[0])
    assert header["format"] == "signet-config-snapshot"
    assert header["version"] == 1


def test_another_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "config-snapshot.jsonl"
    lines = encode(Snapshot((record(),), {CONFIG: 6})).split(b"\n")
    header = orjson.loads(lines[0])
    path.write_bytes(b"\n".join([orjson.dumps({**header, "version": 2}), *lines[1:]]))
    with pytest.raises(SnapshotFileError, match=r"version 2.*--fresh"):
        read_snapshot(path)


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (b"", "empty"),
        (b"not json\n", "not JSON"),
        (b'{"format": "something-else", "version": 1}\n', "not a signet-config-snapshot"),
        (
            b'{"format": "signet-config-snapshot", "version": 1}\n{"topic": "t"}\n',
            "line 2 is not a record",
        ),
        (
            b'{"format": "signet-config-snapshot", "version": 1}\n'
            b'{"topic": "t", "partition": 0, "offset": 0, "key": "!!", "value": ""}\n',
            "line 2 is not a record",
        ),
    ],
)
def test_a_damaged_file_is_a_clear_error(tmp_path: Path, content: bytes, complaint: str) -> None:
    path = tmp_path / "config-snapshot.jsonl"
    path.write_bytes(content)
    with pytest.raises(SnapshotFileError, match=complaint) as caught:
        read_snapshot(path)
    assert str(path) in str(caught.value)


def test_no_file_is_a_first_start(tmp_path: Path) -> None:
    assert read_snapshot(tmp_path / "absent.jsonl") is None
    assert remove_snapshot(tmp_path / "absent.jsonl") is False


def test_writes_replace_the_file_whole_and_private(tmp_path: Path) -> None:
    path = tmp_path / "config-snapshot.jsonl"
    write_snapshot(path, Snapshot((record(value=b"old"),), {CONFIG: 6}))
    write_snapshot(path, Snapshot((record(value=b"new"),), {CONFIG: 6}))
    loaded = read_snapshot(path)
    assert loaded is not None and [r.value for r in loaded.records] == [b"new"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left over
    assert remove_snapshot(path) is True and not path.exists()


def test_a_failed_write_leaves_the_previous_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config-snapshot.jsonl"
    write_snapshot(path, Snapshot((record(value=b"old"),), {CONFIG: 6}))

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_snapshot(path, Snapshot((record(value=b"new"),), {CONFIG: 6}))
    monkeypatch.undo()
    loaded = read_snapshot(path)
    assert loaded is not None and [r.value for r in loaded.records] == [b"old"]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_latest_records_keep_the_newest_per_key_and_drop_tombstones() -> None:
    latest = LatestRecords({CONFIG: 6})
    assert latest.apply(CONFIG, 1, 0, b"ws_a", b"a1", [("h", "text")], 10)
    assert latest.apply(CONFIG, 1, 1, b"ws_b", b"b1", None, 11)
    assert latest.apply(CONFIG, 1, 2, b"ws_a", b"a2", None, 12)
    assert latest.apply(CONFIG, 1, 3, b"ws_b", None, None, 13)  # deleted
    assert not latest.apply(CONFIG, 1, 4, b"ws_c", None, None, 14)  # deleting nothing
    assert not latest.apply(CONFIG, 1, 5, None, b"keyless", None, 15)
    assert latest.apply(CONFIG, 4, 0, b"ws_a", b"a-elsewhere", None, 16)  # another partition

    saved = latest.snapshot(saved_at=99)
    assert {(r.partition, r.key, r.value, r.offset) for r in saved.records} == {
        (1, b"ws_a", b"a2", 2),
        (4, b"ws_a", b"a-elsewhere", 0),
    }
    assert saved.partitions == {CONFIG: 6}
    assert len(latest) == 2


def test_headers_given_as_text_are_kept_as_bytes() -> None:
    latest = LatestRecords({CONFIG: 1})
    latest.apply(CONFIG, 0, 0, b"k", b"v", [("h", "é"), ("n", None)], 1)
    assert latest.snapshot(0).records[0].headers == (("h", "é".encode()), ("n", None))


@pytest.mark.parametrize(
    ("report", "says"),
    [
        (RestoreReport(Path("s"), fresh=True), "started fresh (--fresh)"),
        (RestoreReport(Path("s")), "nothing to restore"),
        (
            RestoreReport(Path("s"), records=3, workspaces=3, destinations=1, publishable_keys=4),
            "restored 3 workspaces, 1 destination, 4 publishable keys from the previous run",
        ),
        (
            RestoreReport(
                Path("s"), records=2, workspaces=1, other_topics={"signet.event-types": 1}
            ),
            "restored 1 workspace, 0 destinations, 0 publishable keys, "
            "1 record of signet.event-types from the previous run",
        ),
    ],
)
def test_what_a_restore_says(report: RestoreReport, says: str) -> None:
    assert report.describe().startswith(says)
