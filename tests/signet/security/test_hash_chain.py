"""The hash chain and its verifier: any honest export verifies; any changed byte or
field, reordering, deletion or forged head fails, naming the first line that does not."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signet.cli import main as signet
from signet.errors import ConfigurationError
from signet.security.chain_key import LogSigner
from signet.security.hash_chain import (
    ChainHead,
    Link,
    append,
    canonical,
    export_line,
    genesis_hash,
    verify_export,
)

SIGNER = LogSigner.derive(b"\x01" * 32)
FORGER = LogSigner.derive(b"\x02" * 32)
EXPORTED_AT = 1_760_000_000_000

headers = st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=3)
fields = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=20),
        "status": st.sampled_from(["delivered", "failed", "exhausted", "destination_disabled"]),
        "attempt": st.integers(min_value=0, max_value=2**31 - 1),
        "http_status": st.none() | st.integers(min_value=100, max_value=599),
        "latency_ms": st.none() | st.floats(allow_nan=False, allow_infinity=False),
        "error": st.none() | st.text(max_size=60),
        "response_excerpt": st.none() | st.text(max_size=60),
        "request_headers": headers,
        "attempted_at": st.just("2026-04-17T18:22:00.000Z"),
    }
)
workspaces = st.from_regex(r"ws_[0-9A-Za-z]{1,12}", fullmatch=True)


def chain(workspace_id: str, entries: list[dict[str, Any]]) -> tuple[list[Link], ChainHead]:
    head = ChainHead.genesis(workspace_id)
    links = []
    for entry in entries:
        link, head = append(head, {**entry, "workspace_id": workspace_id})
        links.append(link)
    return links, head


def export(
    links: list[Link], head: ChainHead, signer: LogSigner = SIGNER, trim: int = 0
) -> list[bytes]:
    """The export as lines (each newline-terminated); the first ``trim`` entries retained out."""
    kept = links[trim:]
    lines = [export_line(link) for link in kept]
    lines.append(
        signer.head_line(
            head,
            first_seq=kept[0].seq if kept else head.seq + 1,
            anchor=kept[0].prev_hash if kept else head.hash,
            exported_at=EXPORTED_AT,
        )
    )
    return lines


@st.composite
def exports(draw: st.DrawFn, min_entries: int = 0) -> tuple[list[bytes], int]:
    entries = draw(st.lists(fields, min_size=min_entries, max_size=8))
    links, head = chain(draw(workspaces), entries)
    trim = draw(st.integers(min_value=0, max_value=max(0, len(links) - min_entries)))
    return export(links, head, trim=trim), len(links)


@given(exports())
def test_every_honest_export_verifies(built: tuple[list[bytes], int]) -> None:
    lines, total = built
    result = verify_export(b"".join(lines), SIGNER.public_key)
    assert result.ok, result.describe()
    assert result.entries == len(lines) - 1
    assert result.head_seq == total and result.key_id == SIGNER.key_id


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(exports(), st.data())
def test_any_changed_byte_is_caught_at_its_line(
    built: tuple[list[bytes], int], data: st.DataObject
) -> None:
    lines, _ = built
    blob = b"".join(lines)
    position = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
    byte = data.draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != blob[position]))
    tampered = blob[:position] + bytes([byte]) + blob[position + 1 :]
    result = verify_export(tampered, SIGNER.public_key)
    assert not result.ok
    line = blob[:position].count(b"\n")  # 0-based line of the changed byte
    entries = len(lines) - 1
    joins_the_head = entries and position == len(b"".join(lines[:entries])) - 1
    if line < entries and not joins_the_head:
        assert result.line == line + 1, result.describe()
    else:
        assert result.line is None, result.describe()  # the head (the trust anchor)


@given(exports(min_entries=1), st.data())
def test_a_changed_field_is_caught_at_its_line(
    built: tuple[list[bytes], int], data: st.DataObject
) -> None:
    lines, _ = built
    index = data.draw(st.integers(min_value=0, max_value=len(lines) - 2))
    entry = orjson.loads(lines[index])
    name = data.draw(st.sampled_from(sorted(entry)))
    value: Any = data.draw(st.none() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=5))
    if entry[name] == value:
        value = [value]
    lines[index] = canonical({**entry, name: value}) + b"\n"  # canonical, so only hashes differ
    result = verify_export(b"".join(lines), SIGNER.public_key)
    assert not result.ok and result.line == index + 1, result.describe()


@given(exports(min_entries=2), st.data())
def test_reordered_entries_are_caught_at_the_first_moved_line(
    built: tuple[list[bytes], int], data: st.DataObject
) -> None:
    lines, _ = built
    entries = len(lines) - 1
    first = data.draw(st.integers(min_value=0, max_value=entries - 2))
    second = data.draw(st.integers(min_value=first + 1, max_value=entries - 1))
    lines[first], lines[second] = lines[second], lines[first]
    result = verify_export(b"".join(lines), SIGNER.public_key)
    assert not result.ok and result.line == first + 1, result.describe()


@given(exports(min_entries=1), st.data())
def test_a_deleted_entry_is_caught(built: tuple[list[bytes], int], data: st.DataObject) -> None:
    lines, _ = built
    entries = len(lines) - 1
    index = data.draw(st.integers(min_value=0, max_value=entries - 1))
    del lines[index]
    result = verify_export(b"".join(lines), SIGNER.public_key)
    assert not result.ok
    # In the middle or at the front: the next line is out of place. At the end: the head
    # no longer matches the last entry.
    assert result.line == (index + 1 if index < entries - 1 else None), result.describe()


@given(exports(min_entries=1))
def test_a_rewritten_chain_needs_a_head_nobody_else_can_sign(
    built: tuple[list[bytes], int],
) -> None:
    lines, _ = built
    entries = [orjson.loads(line) for line in lines[:-1]]
    entries[-1]["status"] = "delivered" if entries[-1]["status"] != "delivered" else "failed"
    workspace_id = entries[0]["workspace_id"]
    head = ChainHead(workspace_id, entries[0]["seq"] - 1, entries[0]["prev_hash"])
    relinked = []
    for entry in entries:
        plain = {k: v for k, v in entry.items() if k not in ("seq", "prev_hash", "hash")}
        link, head = append(head, plain)
        relinked.append(link)
    stale_head = lines[-1]
    result = verify_export(b"".join([*map(export_line, relinked), stale_head]), SIGNER.public_key)
    assert not result.ok and result.line is None, result.describe()
    forged = export(relinked, head, signer=FORGER)
    forged_result = verify_export(b"".join(forged), SIGNER.public_key)
    assert not forged_result.ok and forged_result.line is None
    assert "signature" in (forged_result.problem or "")


def test_values_the_log_never_writes_are_reported_not_raised() -> None:
    links, head = chain("ws_a", [{"id": "att_1", "attempt": 1}])
    lines = export(links, head)
    lines[0] = lines[0].replace(b'"attempt":1', b'"attempt":' + b"9" * 30)
    result = verify_export(b"".join(lines), SIGNER.public_key)
    assert not result.ok and result.line == 1


def test_a_missing_or_extra_head_is_reported() -> None:
    links, head = chain("ws_a", [{"id": "att_1"}, {"id": "att_2"}])
    lines = export(links, head)
    for broken in (b"", b"".join(lines[:-1]), b"".join(lines[:-1] + lines[:1])):
        result = verify_export(broken, SIGNER.public_key)
        assert not result.ok and result.line is None and "missing head" in (result.problem or "")
    twice = verify_export(b"".join([lines[-1], *lines]), SIGNER.public_key)
    assert not twice.ok and twice.line == 1


def test_an_export_for_another_key_or_workspace_fails() -> None:
    links, head = chain("ws_a", [{"id": "att_1"}])
    lines = export(links, head)
    assert not verify_export(b"".join(lines), FORGER.public_key).ok
    other_links, other_head = chain("ws_b", [{"id": "att_1"}])
    spliced = verify_export(
        b"".join([lines[0], export(other_links, other_head)[-1]]), SIGNER.public_key
    )
    assert not spliced.ok and spliced.line == 1 and "ws_b" in (spliced.problem or "")


def test_the_chain_definition() -> None:
    link, head = append(ChainHead.genesis("ws_a"), {"id": "att_1", "b": 2, "a": 1})
    assert link.entry == b'{"a":1,"b":2,"id":"att_1","seq":1}'
    import hashlib

    expected = hashlib.sha256(bytes.fromhex(genesis_hash("ws_a")) + link.entry).hexdigest()
    assert head == ChainHead("ws_a", 1, expected) and link.hash == expected
    assert genesis_hash("ws_a") == hashlib.sha256(b"signet/log/v1/genesis/ws_a").hexdigest()
    with pytest.raises(ValueError):
        append(head, {"seq": 9})


def test_the_log_key() -> None:
    assert LogSigner.derive(b"\x01" * 32).key_id == SIGNER.key_id  # deterministic
    assert FORGER.key_id != SIGNER.key_id and re.fullmatch(r"lk_[0-9a-f]{16}", SIGNER.key_id)
    seed = base64.b64encode(b"\x05" * 32).decode()
    assert LogSigner.from_base64(seed).describe()["algorithm"] == "ed25519"
    for bad in ("", "not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ConfigurationError, match="SIGNET_LOG_SIGNING_KEY"):
            LogSigner.from_base64(bad)


def test_verify_log_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    links, head = chain("ws_a", [{"id": f"att_{i}", "status": "delivered"} for i in range(3)])
    lines = export(links, head)
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"".join(lines))
    public_key = SIGNER.describe()["public_key"]
    assert signet(["verify-log", str(good), "--public-key", public_key]) == 0
    assert capsys.readouterr().out.startswith("OK: 3 entries of ws_a verified")

    lines[1] = lines[1].replace(b'"delivered"', b'"failed"')
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(lines))
    assert signet(["verify-log", str(bad), "--public-key", public_key]) == 1
    assert "FAILED at line 2 (seq 2, att_1)" in capsys.readouterr().out

    assert signet(["verify-log", str(tmp_path / "missing.jsonl"), "--public-key", public_key]) == 2
    assert signet(["verify-log", str(good), "--public-key", "nope"]) == 2
    assert signet(["verify-log", str(good)]) == 2  # a key source is required
