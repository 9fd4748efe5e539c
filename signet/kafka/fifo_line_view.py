"""Where each FIFO destination's line stands, followed from ``signet.fifo-lines``.

The dispatcher writes a :class:`~signet.records.model.FifoLine` whenever a line's head
changes or a delivery moves to the hold topic (``services/dispatcher/fifo.py``). It reads
them back once at start (and follows what other dispatcher processes write, for the
partitions a rebalance hands it); the portal follows them to say how many deliveries wait
behind a stalled head.
"""

from __future__ import annotations

import logging

from signet.errors import CodecError
from signet.kafka.compacted_view import CompactedView
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import FifoLine
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)


class FifoLineView(CompactedView):
    name = "fifo line view"

    def __init__(self, settings: CommonSettings, *, poll_seconds: float = 0.1) -> None:
        super().__init__(
            settings, Topics.from_settings(settings).fifo_lines, poll_seconds=poll_seconds
        )
        self._lines: dict[str, FifoLine] = {}

    def line(self, destination_id: str) -> FifoLine | None:
        return self._lines.get(destination_id)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        destination_id = key.decode(errors="replace")
        if value is None:
            self._lines.pop(destination_id, None)
            return
        try:
            self._lines[destination_id] = codec.decode(value, FifoLine)
        except CodecError as exc:
            self.undecodable += 1
            logger.error("fifo line view: skipped an undecodable record: %s", exc)
