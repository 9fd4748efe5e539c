"""The operator's webhook as configured: followed from its compacted topic.

One key (:data:`KEY`), one partition; a tombstone means none is set. The portal writes it
and waits to see its own write here (read-your-writes, by the record's revision ``id``);
the router and the dispatcher read it to decide whether an operational event is wanted
and where it goes. Like ``ConfigView``: a thread reads from the beginning and follows, and
``ready`` says it has read what was there when it started.
"""

from __future__ import annotations

import logging

from signet.errors import CodecError
from signet.kafka.compacted_view import CompactedView
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import OperatorWebhook
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)

KEY = b"operator-webhook"


class OperatorWebhookView(CompactedView):
    name = "operator webhook view"

    def __init__(self, settings: CommonSettings, *, poll_seconds: float = 0.1) -> None:
        super().__init__(
            settings, Topics.from_settings(settings).operator_webhook, poll_seconds=poll_seconds
        )
        self._current: OperatorWebhook | None = None

    @property
    def current(self) -> OperatorWebhook | None:
        """The webhook as last read; None when none is set."""
        return self._current

    def wants(self, event_type: str) -> bool:
        """Is a webhook set, and does it subscribe to ``event_type``?"""
        hook = self._current
        return hook is not None and event_type in hook.event_types

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key != KEY:
            return
        if value is None:
            self._current = None
            return
        try:
            self._current = codec.decode(value, OperatorWebhook)
        except CodecError as exc:
            self.undecodable += 1
            logger.error("operator webhook view: skipped an undecodable record: %s", exc)
