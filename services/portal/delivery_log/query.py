"""Reading the delivery list's query string, naming every bad parameter in one answer.

``GET /v1/workspace/deliveries?destination_id&status&event_type&since&until&cursor&limit``:
times are RFC 3339 with an offset (``2026-04-17T18:22:00Z``); ``limit`` is 1..100
(default 50); ``event_type`` is exact or a ``prefix.*`` pattern; each may appear once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from multidict import MultiMapping

from services.portal.delivery_log.store import DeliveryFilter, DeliveryStatus
from services.portal.errors import FieldError, InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_TEXT = 255
MAX_CURSOR = 600
KNOWN = frozenset(("destination_id", "status", "event_type", "since", "until", "cursor", "limit"))


@dataclass(slots=True, frozen=True)
class DeliveryQuery:
    filters: DeliveryFilter
    cursor: str | None
    limit: int


def parse_time(text: str) -> int:
    """RFC 3339 with a zone → epoch ms; ``ValueError`` otherwise."""
    if len(text) > 64 or "T" not in text.upper():
        raise ValueError("not an RFC 3339 date-time")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("needs a time zone (Z or ±hh:mm)")
    ms = int(moment.timestamp() * 1000)
    if ms < 0:
        raise ValueError("must be 1970 or later")
    return ms


class _Reader:
    def __init__(self, query: MultiMapping[str]) -> None:
        self.errors: list[FieldError] = []
        self._values: dict[str, str] = {}
        for name in KNOWN:
            values = query.getall(name, [])
            if len(values) > 1:
                self.errors.append(FieldError(name, "give it once"))
            elif values:
                self._values[name] = values[0]

    def text(self, name: str, max_len: int = MAX_TEXT) -> str | None:
        value = self._values.get(name)
        if value is None:
            return None
        if not value or len(value) > max_len or not value.isprintable():
            self.errors.append(FieldError(name, f"must be 1 to {max_len} printable characters"))
            return None
        return value

    def time(self, name: str) -> int | None:
        value = self._values.get(name)
        if value is None:
            return None
        try:
            return parse_time(value)
        except (ValueError, OverflowError, OSError) as exc:
            self.errors.append(FieldError(name, f"must be an RFC 3339 date-time: {exc}"))
            return None

    def limit(self) -> int:
        value = self._values.get("limit")
        if value is None:
            return DEFAULT_LIMIT
        if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_LIMIT):
            self.errors.append(FieldError("limit", f"must be an integer from 1 to {MAX_LIMIT}"))
            return DEFAULT_LIMIT
        return int(value)

    def status(self) -> DeliveryStatus | None:
        value = self._values.get("status")
        if value is None:
            return None
        try:
            return DeliveryStatus(value)
        except ValueError:
            allowed = ", ".join(s.value for s in DeliveryStatus)
            self.errors.append(FieldError("status", f"must be one of {allowed}"))
            return None


def read_delivery_query(query: MultiMapping[str]) -> DeliveryQuery:
    """The query, or :class:`InvalidInput` naming each bad parameter."""
    reader = _Reader(query)
    filters = DeliveryFilter(
        destination_id=reader.text("destination_id"),
        status=reader.status(),
        event_type=reader.text("event_type"),
        since=reader.time("since"),
        until=reader.time("until"),
    )
    cursor = reader.text("cursor", MAX_CURSOR)
    limit = reader.limit()
    if filters.since is not None and filters.until is not None and filters.since >= filters.until:
        reader.errors.append(FieldError("until", "must be later than since"))
    if reader.errors:
        raise InvalidInput(reader.errors)
    return DeliveryQuery(filters, cursor, limit)
