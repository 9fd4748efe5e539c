"""The rules an incoming event must meet, wherever it enters Signet.

The rules are one model, :class:`EventBody` (strict, unknown fields refused): the HTTP
ingest validates a decoded JSON body with it and :mod:`signet_sdk.producer` validates the
Python values of a high-volume producer with it, so an event is valid or invalid the same
way on both paths, and the ingest's OpenAPI document describes the same model. Every
problem is a :class:`~signet_sdk.contract.fields.FieldError` naming the field, all of them at once,
in :class:`EventInputError`.

JSON text is decoded by orjson before the model sees it (not by pydantic): orjson reads
1024 levels of nesting, refuses ``NaN`` and numbers beyond a double, and reads integers
beyond the 64-bit range as IEEE doubles, as most JSON parsers (JavaScript's among them)
would anyway (RFC 8259 §6). The payload is re-serialised to compact JSON with orjson: the
bytes on the topic are what every receiver gets inside ``data``.

An idempotency key (the ``Idempotency-Key`` header or the event's ``id``) fixes the event
id: :func:`event_id_for` derives it from (workspace, key), so two ingest replicas, or an
ingest and a direct producer, give the same key the same id without sharing memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

import orjson
from annotated_types import GroupedMetadata
from pydantic import AfterValidator, Field, PlainValidator, ValidationError, create_model

from signet_sdk._compat import StrEnum
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors, RuleError
from signet_sdk.contract.models import Body
from signet_sdk.contract.rules import (
    MAX_UNKNOWN_REPORTED,
    Matches,
    body_errors,
    few_unknown,
    optional_not_null,
)
from signet_sdk.ids import new_id, now_ms

EVENT_TYPE_MAX_CHARS = 128
RESOURCE_MAX_CHARS = 128
RESOURCE_ID_MAX_CHARS = 256
IDEMPOTENCY_KEY_MAX_CHARS = 255
DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
# Event types Signet emits itself (``signet.test``); a producer may not forge them.
RESERVED_TYPE_PREFIX = "signet."
EVENT_ID_PREFIX = "evt"

# Dot-separated segments; ``*`` is left out because destinations filter with it.
EVENT_TYPE_PATTERN = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
# Visible ASCII only: keys travel in HTTP headers and log lines.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]+$"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class EventSource(StrEnum):
    HTTP = "http"
    KAFKA = "kafka"


class EventInputError(FieldErrors):
    """An event that breaks the rules; ``errors`` names every bad field."""


# -- the model ------------------------------------------------------------------------------


def _not_reserved(value: str) -> str:
    if value.lower().startswith(RESERVED_TYPE_PREFIX):
        raise RuleError(
            f"'{RESERVED_TYPE_PREFIX}*' types are Signet's own", FieldErrorCode.RESERVED
        )
    return value


def _printable_name(value: str) -> str:
    """``resource`` and ``resource_id``: printable text, not blank."""
    if not value.strip():
        raise RuleError("must not be empty or blank", FieldErrorCode.LENGTH)
    if not value.isprintable():
        raise RuleError("must not contain control characters", FieldErrorCode.FORMAT)
    return value


EventType = Annotated[
    str,
    Field(
        min_length=1,
        max_length=EVENT_TYPE_MAX_CHARS,
        description=f"Event type: dot-separated segments; `{RESERVED_TYPE_PREFIX}*` is reserved.",
        examples=["order.completed"],
    ),
    Matches(
        EVENT_TYPE_PATTERN,
        "must be dot-separated segments of letters, digits, '_' or '-' (like order.completed)",
    ),
    AfterValidator(_not_reserved),
]
# What _printable_name checks, for the document: no pattern says it portably.
_PRINTABLE = (
    "not blank, and printable: no control, format, surrogate, private-use or unassigned "
    "characters (Python's `str.isprintable`)"
)
Resource = Annotated[
    str,
    Field(
        min_length=1,
        max_length=RESOURCE_MAX_CHARS,
        description=f"The kind of thing the event is about; {_PRINTABLE}.",
        examples=["order"],
    ),
    AfterValidator(_printable_name),
]
ResourceId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=RESOURCE_ID_MAX_CHARS,
        description=f"Which one; {_PRINTABLE}.",
        examples=["ord_lannister_77"],
    ),
    AfterValidator(_printable_name),
]
IdempotencyKey = Annotated[
    str,
    Field(min_length=1, max_length=IDEMPOTENCY_KEY_MAX_CHARS),
    Matches(IDEMPOTENCY_KEY_PATTERN, "may contain only visible ASCII characters (no spaces)"),
]
"""An idempotency key, in a body's ``id`` or the ``Idempotency-Key`` header."""


@dataclass(frozen=True, slots=True)
class PayloadLimit(GroupedMetadata):
    """``payload``'s rules for a byte limit: a JSON object to the client (and in the
    document), its compact JSON bytes once validated (what goes on the topic)."""

    max_bytes: int

    def __iter__(self) -> Iterator[Any]:
        yield PlainValidator(self.encode, json_schema_input_type=dict[str, Any])
        yield Field(
            description=(
                f"Your JSON object, delivered as `data`. At most {self.max_bytes} bytes "
                "as compact JSON."
            ),
            examples=[{"order_id": "ord_lannister_77", "total_cents": 12900}],
        )

    def encode(self, value: object) -> bytes:
        if not isinstance(value, dict):
            kind = "null" if value is None else type(value).__name__
            raise RuleError(f"must be a JSON object, not {kind}", FieldErrorCode.TYPE)
        try:
            encoded = orjson.dumps(value)
        except orjson.JSONEncodeError as exc:
            # orjson reads 1024 levels of nesting but writes only 254; non-str keys, too.
            raise RuleError(f"cannot be serialised: {exc}", FieldErrorCode.FORMAT) from exc
        if len(encoded) > self.max_bytes:
            raise RuleError(
                f"is {len(encoded)} bytes as compact JSON; the limit is {self.max_bytes}",
                FieldErrorCode.TOO_LARGE,
            )
        return encoded


class EventBody(Body):
    """One event: what happened (`event`) to which resource, and your JSON payload."""

    # Validated, ``payload`` holds the compact JSON bytes. Its limit here is
    # DEFAULT_MAX_PAYLOAD_BYTES; event_body() gives the model of another limit.

    event: EventType
    resource: Resource
    resource_id: ResourceId
    payload: Annotated[bytes, PayloadLimit(DEFAULT_MAX_PAYLOAD_BYTES)]
    id: IdempotencyKey = optional_not_null(
        description=(
            "Idempotency key (same as the Idempotency-Key header; if both are sent "
            "they must be equal). The event id is derived from it."
        ),
        examples=["order-ord_lannister_77-completed"],
    )


@cache
def event_body(max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> type[EventBody]:
    """:class:`EventBody` with the payload limit ``max_payload_bytes`` (one model a limit)."""
    if max_payload_bytes == DEFAULT_MAX_PAYLOAD_BYTES:
        return EventBody
    return create_model(
        "EventBody",
        __base__=EventBody,
        __module__=__name__,
        __doc__=EventBody.__doc__,
        payload=(Annotated[bytes, PayloadLimit(max_payload_bytes)], ...),
    )


# -- the result -----------------------------------------------------------------------------


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

    def to_record(
        self,
        workspace_id: str,
        *,
        event_id: str,
        source: EventSource,
        created_at: int | None = None,
    ) -> dict[str, Any]:
        """The fields of the ``signet.Event`` record (:mod:`signet_sdk.wire` encodes them;
        the services read them as ``signet.records.model.Event``)."""
        return {
            "id": event_id,
            "workspace_id": workspace_id,
            "type": self.type,
            "resource": self.resource,
            "resource_id": self.resource_id,
            "payload": self.payload,
            "created_at": now_ms() if created_at is None else created_at,
            "source": source.value,
        }


def event_id_for(workspace_id: str, idempotency_key: str) -> str:
    """``evt_`` + 26 Crockford base32 characters of SHA-256(workspace, key).

    Same shape as :func:`signet_sdk.ids.new_id` (the first character stays within 0-7, as in
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


# -- the two entry paths --------------------------------------------------------------------


def parse_event(
    document: Mapping[str, Any],
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    header_key: str | None = None,
) -> EventInput:
    """Validate a decoded JSON event object (or the same shape of Python values) with
    :class:`EventBody`; ``header_key`` is a validated ``Idempotency-Key`` header.

    The hot path of the ingest: one call of the model's validator, nothing built twice.
    """
    if not isinstance(document, dict):
        document = dict(document)
    if len(document) > MAX_UNKNOWN_REPORTED:
        document = few_unknown(document, EventBody)
    try:
        # The model's own validator, called directly: no model_validate indirection.
        model = event_body(max_payload_bytes)
        body: EventBody = model.__pydantic_validator__.validate_python(document)
    except ValidationError as exc:
        errors = body_errors(exc, EventBody)
        if not any(e.field == "id" for e in errors):
            errors += _key_conflict(document.get("id"), header_key)
        raise EventInputError(errors) from None
    key: str | None = body.id  # None when absent: null is refused
    if key is None:
        key = header_key
    elif header_key is not None and key != header_key:
        raise EventInputError(_key_conflict(key, header_key))
    return EventInput(body.event, body.resource, body.resource_id, body.payload, key)


def _key_conflict(body_key: object, header_key: str | None) -> list[FieldError]:
    if body_key is None or header_key is None or body_key == header_key:
        return []
    return [FieldError("id", FieldErrorCode.CONFLICT, "differs from the Idempotency-Key header")]


def build_event_input(
    *,
    event: str,
    resource: str,
    resource_id: str,
    payload: Mapping[str, Any] | bytes | str,
    idempotency_key: str | None = None,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> EventInput:
    """Validate Python values (the direct producer's path); same model as :func:`parse_event`.

    ``payload`` is a mapping, or JSON text/bytes that must hold an object.
    """
    problems: list[FieldError] = []
    value: Any = payload
    if isinstance(payload, bytes | str):
        try:
            value = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            problems.append(FieldError("payload", FieldErrorCode.FORMAT, f"is not JSON: {exc}"))
            value = {}  # reported; the other fields are still checked
    elif isinstance(payload, Mapping) and not isinstance(payload, dict):
        value = dict(payload)
    document: dict[str, Any] = {
        "event": event,
        "resource": resource,
        "resource_id": resource_id,
        "payload": value,
    }
    if idempotency_key is not None:
        document["id"] = idempotency_key
    try:
        item = parse_event(document, max_payload_bytes=max_payload_bytes)
    except EventInputError as exc:
        raise EventInputError([*problems, *exc.errors]) from None
    if problems:
        raise EventInputError(problems)
    return item
