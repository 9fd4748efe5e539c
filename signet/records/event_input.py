"""The rules an incoming event must meet, wherever it enters Signet.

The HTTP ingest (a decoded JSON body) and :mod:`signet.sdk.producer` (Python values from a
high-volume producer) both turn what they were given into an :class:`EventInput` here,
so an event is valid or invalid the same way on both paths. Every problem is reported as
a :class:`FieldError` naming the field, all of them at once, in :class:`EventInputError`.

The payload is re-serialised to compact JSON with orjson: the bytes on the topic are what
every receiver gets inside ``data``. Integers beyond the 64-bit range are carried as IEEE
doubles, as most JSON parsers (JavaScript's among them) would read them anyway
(RFC 8259 §6).

An idempotency key (the ``Idempotency-Key`` header or the event's ``id``) fixes the event
id: :func:`event_id_for` derives it from (workspace, key), so two ingest replicas, or an
ingest and a direct producer, give the same key the same id without sharing memory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from signet.errors import SignetError
from signet.ids import new_id, now_ms
from signet.records.model import Event

EVENT_TYPE_MAX_CHARS = 128
RESOURCE_MAX_CHARS = 128
RESOURCE_ID_MAX_CHARS = 256
IDEMPOTENCY_KEY_MAX_CHARS = 255
DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
# Event types Signet emits itself (``signet.test``); a producer may not forge them.
RESERVED_TYPE_PREFIX = "signet."
EVENT_ID_PREFIX = "evt"

# Dot-separated segments; ``*`` is left out because destinations filter with it.
_EVENT_TYPE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
# Visible ASCII only: keys travel in HTTP headers and log lines.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]+")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

FIELDS = ("event", "resource", "resource_id", "payload", "id")
MAX_UNKNOWN_REPORTED = 10


class EventSource(StrEnum):
    HTTP = "http"
    KAFKA = "kafka"


class FieldErrorCode(StrEnum):
    REQUIRED = "required"
    TYPE = "type"
    FORMAT = "format"
    LENGTH = "length"
    TOO_LARGE = "too_large"
    UNKNOWN = "unknown"
    RESERVED = "reserved"
    CONFLICT = "conflict"


@dataclass(slots=True, frozen=True)
class FieldError:
    field: str
    code: FieldErrorCode
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code.value, "message": self.message}

    def under(self, prefix: str) -> FieldError:
        """The same error, named inside a container (``events[3].payload``)."""
        return FieldError(
            f"{prefix}.{self.field}" if self.field else prefix, self.code, self.message
        )


class EventInputError(SignetError):
    """An event that breaks the rules; ``errors`` names every bad field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    @property
    def too_large(self) -> bool:
        return any(e.code is FieldErrorCode.TOO_LARGE for e in self.errors)


@dataclass(slots=True, frozen=True)
class EventInput:
    """A valid event, before it has a workspace, an id and a time."""

    type: str
    resource: str
    resource_id: str
    payload: bytes
    idempotency_key: str | None = None

    def event_id(self, workspace_id: str) -> str:
        """The derived id when the event has an idempotency key, else a fresh one."""
        if self.idempotency_key is None:
            return new_id(EVENT_ID_PREFIX)
        return event_id_for(workspace_id, self.idempotency_key)

    def fingerprint(self) -> bytes:
        """What must match when an idempotency key is reused."""
        digest = hashlib.sha256()
        for part in (self.type, self.resource, self.resource_id):
            encoded = part.encode()
            digest.update(len(encoded).to_bytes(4, "big") + encoded)
        digest.update(self.payload)
        return digest.digest()

    def to_event(
        self,
        workspace_id: str,
        *,
        event_id: str,
        source: EventSource,
        created_at: int | None = None,
    ) -> Event:
        return Event(
            id=event_id,
            workspace_id=workspace_id,
            type=self.type,
            resource=self.resource,
            resource_id=self.resource_id,
            payload=self.payload,
            created_at=now_ms() if created_at is None else created_at,
            source=source.value,
        )


def event_id_for(workspace_id: str, idempotency_key: str) -> str:
    """``evt_`` + 26 Crockford base32 characters of SHA-256(workspace, key).

    Same shape as :func:`signet.ids.new_id` (the first character stays within 0-7, as in
    a ULID) but not time-ordered. Length-prefixed parts, so no two (workspace, key)
    pairs hash the same input.
    """
    digest = hashlib.sha256(b"signet/event-id/v1")
    for part in (workspace_id, idempotency_key):
        encoded = part.encode()
        digest.update(len(encoded).to_bytes(4, "big") + encoded)
    value = int.from_bytes(digest.digest()[:16], "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{EVENT_ID_PREFIX}_{''.join(reversed(chars))}"


def check_idempotency_key(value: object, field: str) -> FieldError | None:
    if not isinstance(value, str):
        return FieldError(field, FieldErrorCode.TYPE, "must be a string")
    if not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX_CHARS:
        return FieldError(
            field,
            FieldErrorCode.LENGTH,
            f"must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} characters",
        )
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        return FieldError(
            field, FieldErrorCode.FORMAT, "may contain only visible ASCII characters (no spaces)"
        )
    return None


def parse_event(
    document: Mapping[str, Any],
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    header_key: str | None = None,
) -> EventInput:
    """Validate a decoded JSON event object; ``header_key`` is a validated header key."""
    unknown = [name for name in document if name not in FIELDS]
    # A few named are enough; a body of 50k junk keys must not make a 5 MB answer.
    errors = [
        FieldError(name, FieldErrorCode.UNKNOWN, f"unknown field; expected {', '.join(FIELDS)}")
        for name in unknown[:MAX_UNKNOWN_REPORTED]
    ]
    missing = object()
    values = {name: document.get(name, missing) for name in FIELDS}
    for name in ("event", "resource", "resource_id", "payload"):
        if values[name] is missing:
            errors.append(FieldError(name, FieldErrorCode.REQUIRED, "is required"))
    event_type = _event_type(values["event"], errors) if values["event"] is not missing else ""
    resource = _name(values["resource"], "resource", RESOURCE_MAX_CHARS, errors)
    resource_id = _name(values["resource_id"], "resource_id", RESOURCE_ID_MAX_CHARS, errors)
    payload = b""
    if values["payload"] is not missing:
        payload = _payload_from_value(values["payload"], max_payload_bytes, errors)
    key = header_key
    if values["id"] is not missing:
        body_key = values["id"]
        problem = check_idempotency_key(body_key, "id")
        if problem is not None:
            errors.append(problem)
        elif header_key is not None and body_key != header_key:
            errors.append(
                FieldError("id", FieldErrorCode.CONFLICT, "differs from the Idempotency-Key header")
            )
        else:
            key = body_key
    if errors:
        raise EventInputError(errors)
    return EventInput(event_type, resource, resource_id, payload, key)


def build_event_input(
    *,
    event: str,
    resource: str,
    resource_id: str,
    payload: Mapping[str, Any] | bytes | str,
    idempotency_key: str | None = None,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> EventInput:
    """Validate Python values (the direct producer's path); same rules as :func:`parse_event`.

    ``payload`` is a mapping, or JSON text/bytes that must hold an object.
    """
    errors: list[FieldError] = []
    event_type = _event_type(event, errors)
    resource = _name(resource, "resource", RESOURCE_MAX_CHARS, errors)
    resource_id = _name(resource_id, "resource_id", RESOURCE_ID_MAX_CHARS, errors)
    payload_bytes = b""
    value: Any = payload
    if isinstance(payload, bytes | str):
        try:
            value = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            errors.append(FieldError("payload", FieldErrorCode.FORMAT, f"is not JSON: {exc}"))
    elif isinstance(payload, Mapping) and not isinstance(payload, dict):
        value = dict(payload)
    if not any(e.field == "payload" for e in errors):
        payload_bytes = _payload_from_value(value, max_payload_bytes, errors)
    if idempotency_key is not None:
        problem = check_idempotency_key(idempotency_key, "id")
        if problem is not None:
            errors.append(problem)
    if errors:
        raise EventInputError(errors)
    return EventInput(event_type, resource, resource_id, payload_bytes, idempotency_key)


def _event_type(value: object, errors: list[FieldError]) -> str:
    if not isinstance(value, str):
        errors.append(FieldError("event", FieldErrorCode.TYPE, "must be a string"))
    elif not 1 <= len(value) <= EVENT_TYPE_MAX_CHARS:
        errors.append(
            FieldError(
                "event", FieldErrorCode.LENGTH, f"must be 1 to {EVENT_TYPE_MAX_CHARS} characters"
            )
        )
    elif not _EVENT_TYPE.fullmatch(value):
        errors.append(
            FieldError(
                "event",
                FieldErrorCode.FORMAT,
                "must be dot-separated segments of letters, digits, '_' or '-' "
                "(like order.completed)",
            )
        )
    elif value.lower().startswith(RESERVED_TYPE_PREFIX):
        errors.append(
            FieldError(
                "event",
                FieldErrorCode.RESERVED,
                f"'{RESERVED_TYPE_PREFIX}*' types are Signet's own",
            )
        )
    else:
        return value
    return ""


def _name(value: object, field: str, max_chars: int, errors: list[FieldError]) -> str:
    """``resource`` and ``resource_id``: printable text, not blank, bounded."""
    if not isinstance(value, str):
        # A missing field was reported already; do not report it twice.
        if not any(e.field == field for e in errors):
            errors.append(FieldError(field, FieldErrorCode.TYPE, "must be a string"))
    elif not value.strip():
        errors.append(FieldError(field, FieldErrorCode.LENGTH, "must not be empty or blank"))
    elif len(value) > max_chars:
        errors.append(
            FieldError(field, FieldErrorCode.LENGTH, f"must be at most {max_chars} characters")
        )
    elif not value.isprintable():
        errors.append(
            FieldError(field, FieldErrorCode.FORMAT, "must not contain control characters")
        )
    else:
        return value
    return ""


def _payload_from_value(value: object, max_bytes: int, errors: list[FieldError]) -> bytes:
    if not isinstance(value, dict):
        kind = "null" if value is None else type(value).__name__
        errors.append(
            FieldError("payload", FieldErrorCode.TYPE, f"must be a JSON object, not {kind}")
        )
        return b""
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        # orjson reads 1024 levels of nesting but writes only 254; non-str keys, too.
        errors.append(FieldError("payload", FieldErrorCode.FORMAT, f"cannot be serialised: {exc}"))
        return b""
    if len(encoded) > max_bytes:
        errors.append(
            FieldError(
                "payload",
                FieldErrorCode.TOO_LARGE,
                f"is {len(encoded)} bytes as compact JSON; the limit is {max_bytes}",
            )
        )
        return b""
    return encoded
