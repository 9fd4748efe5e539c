"""The delivery list's query string as a model: its filters, limit and cursor, checked once.

``GET /v1/workspace/deliveries?destination_id&status&event_type&since&until&cursor&limit``:
times are RFC 3339 with an offset (``2026-04-17T18:22:00Z``); ``limit`` is 1..100
(default 50); ``event_type`` is exact or a ``prefix.*`` pattern; each may appear once.
Parameters it does not know are ignored (:class:`QueryModel`). :class:`DeliveryQuery` is
both the validation and the operation's documented parameters: a range exists once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from multidict import MultiMapping
from pydantic import Field, ValidationInfo, WithJsonSchema, field_validator
from signet_sdk.contract.fields import FieldErrorCode, RuleError

from services.portal.delivery_log.store import DeliveryFilter, DeliveryStatus
from services.portal.queries import QueryModel, read_query

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_TEXT = 255
MAX_CURSOR = 600
MAX_TIME_CHARS = 64


def parse_time(text: str) -> int:
    """RFC 3339 with a zone → epoch ms; ``ValueError`` otherwise."""
    if len(text) > MAX_TIME_CHARS or "T" not in text.upper():
        raise ValueError("not an RFC 3339 date-time")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("needs a time zone (Z or ±hh:mm)")
    ms = int(moment.timestamp() * 1000)
    if ms < 0:
        raise ValueError("must be 1970 or later")
    return ms


# A time is sent as text and kept as epoch ms, which is what the store filters on.
_Time = Annotated[
    int,
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": MAX_TIME_CHARS}),
]
# Named inline (not a $ref): query parameters are documented as scalars.
_Status = Annotated[
    DeliveryStatus,
    WithJsonSchema({"type": "string", "enum": [s.value for s in DeliveryStatus]}),
]


def _text(max_length: int, description: str) -> Any:
    return Field(None, min_length=1, max_length=max_length, description=description)


class DeliveryQuery(QueryModel):
    """The query of ``GET /v1/workspace/deliveries``."""

    destination_id: str | None = _text(MAX_TEXT, "one destination")
    status: _Status | None = Field(
        None, description="the delivery's state (that of its newest attempt)"
    )
    event_type: str | None = _text(MAX_TEXT, "exact, or a `prefix.*` pattern")
    since: _Time | None = Field(None, description="event time ≥ (RFC 3339 with an offset)")
    until: _Time | None = Field(None, description="event time < (RFC 3339 with an offset)")
    cursor: str | None = _text(MAX_CURSOR, "`next_cursor` of the previous page")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="page size")

    @field_validator("destination_id", "event_type", "cursor")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise RuleError("must hold printable characters only", FieldErrorCode.FORMAT)
        return value

    @field_validator("since", "until", mode="before")
    @classmethod
    def _time(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return parse_time(value)
        except (ValueError, OverflowError, OSError) as exc:
            raise RuleError(f"must be an RFC 3339 date-time: {exc}", FieldErrorCode.FORMAT) from exc

    @field_validator("until")
    @classmethod
    def _after_since(cls, value: int | None, info: ValidationInfo) -> int | None:
        since = info.data.get("since")
        if value is not None and since is not None and since >= value:
            raise RuleError("must be later than since", FieldErrorCode.RANGE)
        return value

    @field_validator("limit", mode="before")
    @classmethod
    def _digits(cls, value: object) -> object:
        # Plain decimal digits only: no sign, spaces, underscores or other scripts' digits.
        if isinstance(value, str) and not (value.isascii() and value.isdigit()):
            raise RuleError(f"must be an integer from 1 to {MAX_LIMIT}", FieldErrorCode.TYPE)
        return value

    @property
    def filters(self) -> DeliveryFilter:
        return DeliveryFilter(
            destination_id=self.destination_id,
            status=self.status,
            event_type=self.event_type,
            since=self.since,
            until=self.until,
        )


def read_delivery_query(query: MultiMapping[str]) -> DeliveryQuery:
    """The query, or :class:`FieldErrors` naming each bad parameter (a repeated one too)."""
    return read_query(DeliveryQuery, query)
