"""The tamper-evident delivery log: hash chain, signed export head, and its verifier.

Each workspace's log is a sequence of entries, one per delivery attempt (``Outcome``) and
one per payload erasure (``{"kind": "erasure", "workspace_id", "event_id", "erased_at"}``),
numbered ``seq`` = 1, 2, 3… Entry n commits to entry n-1:

    hash_n = SHA-256(bytes(hash_{n-1}) || canonical(entry_n))      (hex in JSON)
    hash_0 = SHA-256("signet/log/v1/genesis/" + workspace_id)       (the genesis value)

where ``canonical`` is orjson with sorted keys and no whitespace, and ``entry_n`` holds the
attempt's fields and ``seq`` (not ``prev_hash``/``hash``). Binding the workspace into the
genesis value means a chain cannot be passed off as another workspace's.

An export (``GET /v1/workspace/log/export``) is JSON Lines: each entry with its
``prev_hash`` and ``hash``, then one head line

    {"head": {"workspace_id","seq","hash","first_seq","anchor","exported_at","key_id"},
     "signature": base64(Ed25519(canonical(head)))}

``anchor`` is the hash of the entry before the first line (the genesis value when the
export starts at seq 1). Retention trims the oldest entries, so an export may start later;
it still verifies from its anchor, and the signed ``first_seq``/``anchor`` make a copy with
lines cut from its front (or back, via ``seq``/``hash``) fail. Every line must be in the
canonical form: any changed byte is caught, not only a changed value. The verifier checks
the signed head first (the trust anchor), then names the first line that does not match.
The portal signs with ``signet/security/chain_key.py``.

``signet verify-log FILE [--public-key B64 | --portal-url URL]`` (``signet/cli.py``) reads
an export, takes the key given or fetches the portal's (``fetch_public_key``, ``head_key_id``)
and reports what ``verify_export`` found.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import sys
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS_LABEL = b"signet/log/v1/genesis/"
LINK_FIELDS = ("prev_hash", "hash")
HEAD_FIELDS = ("workspace_id", "seq", "hash", "first_seq", "anchor", "exported_at", "key_id")
SIGNING_KEY_PATH = "/v1/log-signing-key"
ERASURE_KIND = "erasure"  # the ``kind`` of an erasure entry (an attempt's entry has none)
_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant RFC 3339 spells


def canonical(value: Any) -> bytes:
    """orjson, sorted keys, no whitespace: the bytes every hash and signature covers."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def genesis_hash(workspace_id: str) -> str:
    return hashlib.sha256(GENESIS_LABEL + workspace_id.encode()).hexdigest()


def link_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """``SHA-256(prev_hash bytes || canonical(entry))`` as hex."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(entry)).hexdigest()


def rfc3339(ms: int | None) -> str | None:
    """Epoch milliseconds as ``2026-04-17T18:22:00.000Z`` (the portal's time format)."""
    if ms is None:
        return None
    if not 0 <= ms <= _MAX_MS:
        raise ValueError(f"time {ms} ms is outside 1970..9999")
    stamp = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


@dataclass(slots=True, frozen=True)
class ChainHead:
    """The newest entry of a workspace's chain (seq 0 and the genesis hash when empty)."""

    workspace_id: str
    seq: int
    hash: str

    @classmethod
    def genesis(cls, workspace_id: str) -> ChainHead:
        return cls(workspace_id, 0, genesis_hash(workspace_id))


@dataclass(slots=True, frozen=True)
class Link:
    """One appended entry: its number, the hash it follows, its own hash, its bytes."""

    seq: int
    prev_hash: str
    hash: str
    entry: bytes  # canonical JSON, stored as is so the export reproduces it exactly


def append(head: ChainHead, fields: Mapping[str, Any]) -> tuple[Link, ChainHead]:
    """Append an entry made of ``fields`` (without ``seq``) after ``head``."""
    if "seq" in fields or any(name in fields for name in LINK_FIELDS):
        raise ValueError("entry fields may not include seq, prev_hash or hash")
    seq = head.seq + 1
    entry = {**fields, "seq": seq}
    digest = link_hash(head.hash, entry)
    return Link(seq, head.hash, digest, canonical(entry)), ChainHead(head.workspace_id, seq, digest)


def export_line(link: Link) -> bytes:
    """The JSON Lines form of one entry (canonical, newline-terminated)."""
    entry = orjson.loads(link.entry)
    return canonical({**entry, "prev_hash": link.prev_hash, "hash": link.hash}) + b"\n"


# -- the platform's log key (signing: signet/security/chain_key.py) --------------------------------


def load_public_key(text: str) -> Ed25519PublicKey:
    """A base64 raw 32-byte Ed25519 public key (what ``/v1/log-signing-key`` serves)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the public key is not base64 of 32 raw Ed25519 bytes") from exc


# -- verification ----------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class VerifyResult:
    """What ``verify_export`` found. ``line`` is 1-based; ``seq``/``entry_id`` name the entry."""

    ok: bool
    entries: int
    problem: str | None = None
    line: int | None = None
    seq: int | None = None
    entry_id: str | None = None
    workspace_id: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None
    key_id: str | None = None
    erasures: int = 0  # entries of kind ``erasure`` among ``entries``

    def describe(self) -> str:
        if self.ok:
            plural = "s" if self.erasures > 1 else ""
            erased = f" ({self.erasures} payload erasure{plural})" if self.erasures else ""
            return (
                f"OK: {self.entries} entries{erased} of {self.workspace_id} verified "
                f"(through seq {self.head_seq}, head {self.head_hash}, key {self.key_id})"
            )
        where = "the head line" if self.line is None else f"line {self.line}"
        if self.seq is not None:
            where += f" (seq {self.seq}" + (f", {self.entry_id})" if self.entry_id else ")")
        return f"FAILED at {where}: {self.problem}"


class _Broken(Exception):
    def __init__(self, problem: str, line: int | None = None, entry: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.entry = entry if isinstance(entry, dict) else {}


def _split(lines: bytes | str | Iterable[bytes | str]) -> list[bytes]:
    if isinstance(lines, str | bytes):
        data = lines.encode() if isinstance(lines, str) else lines
        parts = data.split(b"\n")
        return parts[:-1] if parts and parts[-1] == b"" else parts
    out = []
    for line in lines:
        raw = line.encode() if isinstance(line, str) else line
        out.append(raw[:-1] if raw.endswith(b"\n") else raw)
    return out


def _parse(raw: bytes, number: int) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _Broken(f"not JSON ({exc})", number) from exc
    if not isinstance(value, dict):
        raise _Broken("not a JSON object", number)
    try:
        again = canonical(value)
    except (TypeError, orjson.JSONEncodeError) as exc:  # e.g. an integer past 64 bits
        raise _Broken(f"holds a value the log never writes ({exc})", number, value) from exc
    if again != raw:
        raise _Broken("not in canonical form (changed bytes)", number, value)
    return value


def _typed(value: Any, kind: type, what: str, number: int | None, entry: Any = None) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _Broken(f"{what} is missing or not a {kind.__name__}", number, entry)
    return value


def _check_hex(value: Any, what: str, number: int | None, entry: Any = None) -> str:
    text: str = _typed(value, str, what, number, entry)
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise _Broken(f"{what} is not a SHA-256 hex digest", number, entry)
    return text


def verify_export(
    lines: bytes | str | Iterable[bytes | str], public_key: Ed25519PublicKey | bytes | str
) -> VerifyResult:
    """Check the signed head, then every line against it and its predecessor.

    The head is the trust anchor, so it is checked first: a bad signature or a missing
    head is reported as such (``line=None``); otherwise the result names the first entry
    line that does not match (``line`` 1-based, with its stated ``seq`` and ``id``).
    """
    key = _as_public_key(public_key)
    raw_lines = _split(lines)
    entries = erasures = 0
    try:
        if not raw_lines:
            raise _Broken("the export is empty: missing head")
        *body, head_raw = raw_lines
        head, signature = _parse_head(head_raw, len(raw_lines))
        workspace_id = _typed(head.get("workspace_id"), str, "head.workspace_id", None)
        head_seq = _typed(head.get("seq"), int, "head.seq", None)
        head_hash = _check_hex(head.get("hash"), "head.hash", None)
        first_seq = _typed(head.get("first_seq"), int, "head.first_seq", None)
        anchor = _check_hex(head.get("anchor"), "head.anchor", None)
        key_id = _typed(head.get("key_id"), str, "head.key_id", None)
        _verify_signature(key, head, signature)
        if first_seq < 1 or (first_seq == 1 and anchor != genesis_hash(workspace_id)):
            raise _Broken("the head's anchor is not the genesis value of this workspace")
        expected_seq, expected_prev = first_seq, anchor
        for number, raw in enumerate(body, start=1):
            entry = _parse(raw, number)
            if "head" in entry:
                raise _Broken("a head line before the end of the export", number, entry)
            seq = _typed(entry.get("seq"), int, "seq", number, entry)
            stated_prev = _check_hex(entry.get("prev_hash"), "prev_hash", number, entry)
            stated_hash = _check_hex(entry.get("hash"), "hash", number, entry)
            ws = _typed(entry.get("workspace_id"), str, "workspace_id", number, entry)
            if ws != workspace_id:
                raise _Broken(f"belongs to {ws}, the head to {workspace_id}", number, entry)
            if seq != expected_seq:
                raise _Broken(f"seq {seq} where seq {expected_seq} belongs", number, entry)
            if stated_prev != expected_prev:
                raise _Broken("prev_hash is not the hash of the entry before", number, entry)
            fields = {k: v for k, v in entry.items() if k not in LINK_FIELDS}
            if link_hash(stated_prev, fields) != stated_hash:
                raise _Broken("hash does not match the entry's contents", number, entry)
            expected_seq, expected_prev = seq + 1, stated_hash
            entries += 1
            if entry.get("kind") == ERASURE_KIND:
                erasures += 1
        if (expected_seq - 1, expected_prev) != (head_seq, head_hash):
            raise _Broken(
                f"the last entry (seq {expected_seq - 1}) is not the signed head's "
                f"(seq {head_seq}): entries are missing or were rewritten"
            )
    except _Broken as broken:
        seq_value = broken.entry.get("seq")
        entry_id = broken.entry.get("id")
        return VerifyResult(
            ok=False,
            entries=entries,
            problem=broken.problem,
            line=broken.line,
            seq=seq_value if type(seq_value) is int else None,
            entry_id=entry_id if isinstance(entry_id, str) else None,
        )
    return VerifyResult(
        ok=True,
        entries=entries,
        workspace_id=workspace_id,
        head_seq=head_seq,
        head_hash=head_hash,
        key_id=key_id,
        erasures=erasures,
    )


def _parse_head(raw: bytes, number: int) -> tuple[dict[str, Any], bytes]:
    try:
        line = _parse(raw, number)
    except _Broken as exc:
        raise _Broken(f"missing head: the last line is {exc.problem}") from exc
    head = line.get("head")
    if not isinstance(head, dict) or set(line) != {"head", "signature"}:
        raise _Broken("missing head: the last line is not a signed head")
    if set(head) != set(HEAD_FIELDS):
        raise _Broken(f"the head must have exactly the fields {', '.join(HEAD_FIELDS)}")
    signature_text = line.get("signature")
    if not isinstance(signature_text, str):
        raise _Broken("the head's signature is missing")
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except binascii.Error as exc:
        raise _Broken("the head's signature is not base64") from exc
    return head, signature


def _verify_signature(key: Ed25519PublicKey, head: dict[str, Any], signature: bytes) -> None:
    try:
        key.verify(signature, canonical(head))
    except InvalidSignature as exc:
        raise _Broken("the head's signature does not verify with this public key") from exc


def _as_public_key(value: Ed25519PublicKey | bytes | str) -> Ed25519PublicKey:
    if isinstance(value, Ed25519PublicKey):
        return value
    if isinstance(value, bytes):
        return Ed25519PublicKey.from_public_bytes(value)
    return load_public_key(value)


# -- signet verify-log ---------------------------------------------------------------------


def fetch_public_key(portal_url: str, key_id: str | None = None, timeout: float = 10.0) -> str:
    """The base64 public key the portal serves (the one named ``key_id`` when given)."""
    url = portal_url.rstrip("/") + SIGNING_KEY_PATH
    if not url.startswith(("https://", "http://")):
        raise ValueError("--portal-url must be an http(s) URL")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked
        document = orjson.loads(response.read())
    keys = [document, *document.get("keys", [])] if isinstance(document, dict) else []
    for entry in keys:
        if isinstance(entry, dict) and (key_id is None or entry.get("key_id") == key_id):
            public_key = entry.get("public_key")
            if isinstance(public_key, str):
                return public_key
    raise ValueError(f"the portal at {portal_url} serves no log key {key_id or ''}".rstrip())


def head_key_id(data: bytes) -> str | None:
    """The ``key_id`` an export's head names, to pick the right key from the portal."""
    last = _split(data)[-1:] or [b""]
    try:
        head = orjson.loads(last[0]).get("head", {})
    except (orjson.JSONDecodeError, AttributeError):
        return None
    key_id = head.get("key_id") if isinstance(head, dict) else None
    return key_id if isinstance(key_id, str) else None


if __name__ == "__main__":  # ``python -m signet.security.hash_chain`` is ``signet verify-log``
    from signet.cli import main

    sys.exit(main(["verify-log", *sys.argv[1:]]))
