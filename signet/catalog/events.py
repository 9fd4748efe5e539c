"""An event held against the catalog: the one check ingest and the router both make.

A type with a schema: its payload must conform. A type without one, or a type the
catalog does not hold, is accepted, unless the catalog is required
(``SIGNET_REQUIRE_CATALOGED_EVENT_TYPES``): then a type it does not hold is refused.
"""

from __future__ import annotations

from typing import Protocol

import orjson
from signet_sdk.contract.fields import FieldError, FieldErrorCode

from signet.catalog.view import CatalogEntry
from signet.errors import InvalidRecordError


class CatalogReader(Protocol):
    """What an event check needs of the catalog (:class:`~signet.catalog.view.EventTypeView`)."""

    def get(self, name: str) -> CatalogEntry | None: ...


class CatalogRefusal(InvalidRecordError):
    """An event produced straight to Kafka that the catalog refuses: a dead letter whose
    reason names every field error."""

    def __init__(self, event_id: str, event_type: str, errors: list[FieldError]) -> None:
        self.errors = tuple(errors)
        self.code = errors[0].code if errors else FieldErrorCode.SCHEMA
        listed = "; ".join(f"{e.field} ({e.code.value}): {e.message}" for e in errors)
        super().__init__(f"event {event_id} of type {event_type} refused by the catalog: {listed}")


def event_problems(
    catalog: CatalogReader,
    event_type: str,
    payload: bytes | dict[str, object],
    *,
    require_cataloged: bool,
    type_field: str = "event",
    payload_field: str = "payload",
) -> list[FieldError]:
    """Why the catalog refuses an event (empty when it accepts it); ``payload`` is an
    object, or its JSON text (parsed only when the type has a schema)."""
    entry = catalog.get(event_type)
    if entry is None:
        if not require_cataloged:
            return []
        return [
            FieldError(
                type_field,
                FieldErrorCode.UNKNOWN_EVENT_TYPE,
                f"{event_type!r} is not in the event-type catalog",
            )
        ]
    schema = entry.payload_schema
    if schema is None:
        return []
    value = orjson.loads(payload) if isinstance(payload, bytes) else payload
    return schema.problems(value, payload_field)
