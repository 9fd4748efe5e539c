"""An in-memory view of the event-type catalog, followed from Kafka.

Like :class:`~signet.kafka.config_view.ConfigView`: every partition of ``event-types``
read from the beginning on a thread of its own, ``ready`` once what was on the topic at
start-up has been read. The topic is compacted and keyed by type name, so the newest
record of a name is the type and a tombstone deletes it.

Each :class:`CatalogEntry` is one version of one type and compiles its schema the first
time a payload is checked against it: a validator is compiled once per type version,
and a new version (a new entry) never sees an old one's validator.

``wait_for_offset`` gives the portal read-your-writes: a write is answered once this
view has read past the offset the broker acknowledged it at.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import orjson

from signet.catalog.json_schema import PayloadSchema
from signet.errors import CodecError
from signet.kafka.compacted_view import CompactedView
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import EventTypeDefinition
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)


class CatalogEntry:
    """One version of one event type, with its parsed schema and example."""

    __slots__ = ("_compiled", "_lock", "definition", "example", "schema")

    def __init__(self, definition: EventTypeDefinition) -> None:
        self.definition = definition
        self.schema: dict[str, Any] | None = _parsed(definition.schema_json)
        self.example: dict[str, Any] | None = _parsed(definition.example_json)
        self._compiled: PayloadSchema | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def version(self) -> int:
        return self.definition.version

    @property
    def payload_schema(self) -> PayloadSchema | None:
        """The compiled schema (compiled on first use), or None for a type without one."""
        if self.schema is None:
            return None
        compiled = self._compiled
        if compiled is None:
            with self._lock:  # the router's loop and a test thread may ask at once
                if self._compiled is None:
                    self._compiled = PayloadSchema(self.schema)
                compiled = self._compiled
        return compiled


def _parsed(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = orjson.loads(text)
    return value if isinstance(value, dict) else None


class EventTypeView(CompactedView):
    """Follows ``event-types`` in a background thread; read from the event loop."""

    name = "catalog view"

    def __init__(self, settings: CommonSettings, *, poll_seconds: float = 0.1) -> None:
        super().__init__(
            settings, Topics.from_settings(settings).event_types, poll_seconds=poll_seconds
        )
        self._entries: dict[str, CatalogEntry] = {}
        # The last version of each name seen, deleted ones too: a type created again
        # after a delete continues from it (while this process remembers it).
        self._last_versions: dict[str, int] = {}

    # -- reads -------------------------------------------------------------------------

    def get(self, name: str) -> CatalogEntry | None:
        return self._entries.get(name)

    def entries(self) -> list[CatalogEntry]:
        """Every type, by name."""
        return sorted(self._entries.values(), key=lambda e: e.name)

    def last_version(self, name: str) -> int:
        """The version of ``name`` last seen, 0 when never (or not since this start)."""
        return self._last_versions.get(name, 0)

    # -- the follower thread -----------------------------------------------------------

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:  # tombstone: the type was deleted
            self._entries.pop(key.decode() if key else "", None)
            return
        try:
            definition = codec.decode(value, EventTypeDefinition)
            entry = CatalogEntry(definition)
        except (CodecError, orjson.JSONDecodeError) as exc:
            self.undecodable += 1
            logger.error("catalog view: skipped an unreadable event type: %s", exc)
            return
        # Dict assignment is atomic: readers on the loop see the old entry or the new one.
        self._entries[definition.name] = entry
        self._last_versions[definition.name] = max(
            definition.version, self._last_versions.get(definition.name, 0)
        )
