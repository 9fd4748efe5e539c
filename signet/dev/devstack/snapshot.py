"""The dev stack's copy of its setup: the latest record of every key on the compacted topics.

The embedded broker keeps its topics in memory, so every workspace, destination and key
would be gone after a restart. ``signet up`` therefore keeps, in ``.signet/`` (0600: the
records hold sealed secrets and key hashes), the newest record of each key of every
compacted topic, exactly as the broker had it, and produces them again on the next start
(``restore.py``). Which topics: every one whose spec says ``cleanup.policy=compact``
(:func:`compacted_topics`), so a compacted topic added later is kept without a change here.

The file is JSON Lines, rewritten whole and atomically (temporary file, fsync, rename,
fsync of the directory), so a crash leaves the previous copy or the new one, never a mix:

    {"format": "signet-config-snapshot", "version": 1, "saved_at": <ms>,
     "partitions": {"<topic>": <count>, ...}}
    {"topic": "...", "partition": 0, "offset": 12, "timestamp": <ms or null>,
     "key": "<base64>", "value": "<base64>", "headers": [["name", "<base64>" or null]]}
    ...

A tombstone is never stored: it removes its key (a deleted key is simply absent).
``partitions`` is each topic's partition count when saved: a restore puts every record
back on its partition only while the count is unchanged.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from signet.errors import ConfigurationError
from signet.kafka.topics import Topics, topic_specs
from signet.settings import CommonSettings

SNAPSHOT_FILE = "config-snapshot.jsonl"
FORMAT = "signet-config-snapshot"
VERSION = 1
PRIVATE_FILE = 0o600

Headers = tuple[tuple[str, bytes | None], ...]


def compacted_topics(settings: CommonSettings) -> list[str]:
    """The names of every compacted topic, read from the topic specs, but ``fifo-lines``:
    where ordered deliveries stand describes deliveries in flight, which the embedded
    broker forgets with the other topics (restored alone, a line would wait for a head
    that is gone)."""
    in_flight = {Topics.from_settings(settings).fifo_lines}
    return [
        spec.name
        for spec in topic_specs(settings)
        if "compact" in spec.config.get("cleanup.policy", "").split(",")
        and spec.name not in in_flight
    ]


@dataclass(slots=True, frozen=True)
class StoredRecord:
    """One record as the broker had it; ``offset`` only orders records of a partition."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: Headers = ()
    timestamp: int | None = None  # ms; None: the broker gave none


@dataclass(slots=True, frozen=True)
class Snapshot:
    """What the file holds: records in (topic, partition, offset) order, and partition
    counts when saved."""

    records: tuple[StoredRecord, ...]
    partitions: dict[str, int]
    saved_at: int = 0

    def count(self, topic: str) -> int:
        return sum(1 for record in self.records if record.topic == topic)


class SnapshotFileError(ConfigurationError):
    """The file cannot be read back: written by a newer Signet, or damaged."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"expected base64 text, got {type(text).__name__}")
    return base64.b64decode(text, validate=True)


def encode(snapshot: Snapshot) -> bytes:
    header = {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": snapshot.saved_at,
        "partitions": snapshot.partitions,
    }
    lines = [orjson.dumps(header)]
    ordered = sorted(snapshot.records, key=lambda r: (r.topic, r.partition, r.offset))
    for record in ordered:
        lines.append(
            orjson.dumps(
                {
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "timestamp": record.timestamp,
                    "key": _b64(record.key),
                    "value": _b64(record.value),
                    "headers": [
                        [name, None if value is None else _b64(value)]
                        for name, value in record.headers
                    ],
                }
            )
        )
    return b"\n".join(lines) + b"\n"


def decode(data: bytes, source: Path | str = "the snapshot") -> Snapshot:
    """Parse a whole file; SnapshotFileError says what is wrong and what to do."""
    lines = [line for line in data.split(b"\n") if line.strip()]
    if not lines:
        raise SnapshotFileError(f"{source} is empty")
    try:
        header = orjson.loads(lines[0])
    except orjson.JSONDecodeError as exc:
        raise _damaged(source, f"its first line is not JSON ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _damaged(source, f"it is not a {FORMAT} file")
    version = header.get("version")
    if version != VERSION:
        raise SnapshotFileError(
            f"{source} has format version {version!r}; this Signet reads version {VERSION} "
            "(written by another Signet?). Start once with `signet up --fresh` to replace it, "
            "or move it away to keep it"
        )
    records = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            records.append(_record(orjson.loads(line)))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise _damaged(source, f"line {number} is not a record ({exc})") from exc
    partitions = header.get("partitions") or {}
    if not isinstance(partitions, dict):
        raise _damaged(source, "its partition counts are not an object")
    return Snapshot(
        records=tuple(records),
        partitions={str(topic): int(count) for topic, count in partitions.items()},
        saved_at=int(header.get("saved_at") or 0),
    )


def _record(item: Any) -> StoredRecord:
    if not isinstance(item, dict):
        raise TypeError("a record is an object")
    timestamp = item.get("timestamp")
    return StoredRecord(
        topic=str(item["topic"]),
        partition=int(item["partition"]),
        offset=int(item["offset"]),
        key=_unb64(item["key"]),
        value=_unb64(item["value"]),
        headers=tuple(
            (str(name), None if value is None else _unb64(value))
            for name, value in item.get("headers") or ()
        ),
        timestamp=None if timestamp is None else int(timestamp),
    )


def _damaged(source: Path | str, why: str) -> SnapshotFileError:
    return SnapshotFileError(
        f"cannot read {source}: {why}. Start with `signet up --fresh` to begin without it "
        "(move the file away first to keep it)"
    )


def read_snapshot(path: Path) -> Snapshot | None:
    """The saved copy, or None when there is none (a first start)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return decode(data, path)


def write_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Replace ``path`` with ``snapshot``, atomically and durably (0600).

    The temporary file is fsynced before the rename and the directory after it: once this
    returns, a crash (of the process or of the machine) leaves the new copy.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encode(snapshot))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def remove_snapshot(path: Path) -> bool:
    """Forget the saved copy (``--fresh``); whether there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


class LatestRecords:
    """The newest record of each (topic, partition, key), as the topics are read.

    Not thread-safe: one follower thread owns it (``recorder.py``).
    """

    def __init__(self, partitions: dict[str, int]) -> None:
        self.partitions = dict(partitions)
        self._records: dict[tuple[str, int, bytes], StoredRecord] = {}

    def __len__(self) -> int:
        return len(self._records)

    def apply(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: Iterable[tuple[str, bytes | str | None]] | None,
        timestamp: int | None,
    ) -> bool:
        """Keep a record, or drop its key for a tombstone; False when nothing changed
        (a record without a key has no place on a compacted topic and is ignored)."""
        if key is None:
            return False
        slot = (topic, partition, key)
        if value is None:
            return self._records.pop(slot, None) is not None
        self._records[slot] = StoredRecord(
            topic=topic,
            partition=partition,
            offset=offset,
            key=key,
            value=value,
            headers=tuple(
                (name, data.encode() if isinstance(data, str) else data)
                for name, data in headers or ()
            ),
            timestamp=timestamp,
        )
        return True

    def snapshot(self, saved_at: int) -> Snapshot:
        return Snapshot(
            records=tuple(self._records.values()),
            partitions=dict(self.partitions),
            saved_at=saved_at,
        )
