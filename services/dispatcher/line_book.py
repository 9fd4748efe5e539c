"""The FIFO lines' records: where each line stands, read back at start, written
(acknowledged) whenever it changes (``fifo.py`` says what the fields mean and why each
write comes when it does)."""

from __future__ import annotations

import logging
import uuid
from functools import partial

from signet_sdk.ids import now_ms

from signet.backoff import retry_until_done
from signet.errors import BrokerError
from signet.kafka.clients import AsyncProducer
from signet.kafka.fifo_line_view import FifoLineView
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import FifoLine

logger = logging.getLogger(__name__)


class LineBook:
    """The line records: read at start, written (acknowledged) as lines change."""

    def __init__(self, producer: AsyncProducer, topics: Topics, view: FifoLineView) -> None:
        self._producer = producer
        self._topic = topics.fifo_lines
        self._view = view
        self.writer = f"dispatcher-{uuid.uuid4().hex[:12]}"

        self._written: dict[str, FifoLine] = {}  # our own writes, until the view has them

    def read(self, destination_id: str, workspace_id: str) -> FifoLine:
        """The newest record of the line: the view's, or ours if the view lags it."""
        seen, ours = self._view.line(destination_id), self._written.get(destination_id)
        if ours is not None and (seen is None or seen.updated_at < ours.updated_at):
            return ours
        return seen or FifoLine(destination_id, workspace_id, self.writer, now_ms())

    async def write(self, line: FifoLine) -> None:
        self._written[line.destination_id] = line
        value = codec.encode(line)
        await retry_until_done(
            partial(self._producer.send, self._topic, value, key=line.destination_id),
            retry_on=BrokerError,
            on_retry=lambda exc, _: logger.warning(
                "fifo line of %s not acknowledged (%s); retrying", line.destination_id, exc
            ),
        )
