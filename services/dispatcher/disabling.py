"""Disables a destination: a ``disable_destination`` command, then a ``destination_disabled``
outcome for the alerter.

The dispatcher never writes config itself: like the portal, it produces a workspace
command and the router applies it (``services/router/apply.py``: enabled=false and the
reason, unless the destination changed after this decision). The command id is derived
from the destination's id and version, so replicas deciding the same thing, or a
dispatcher redoing work after a restart, produce one command the router applies once;
the outcome id is derived the same way, so the alerter can drop duplicates.
Re-enabling is the portal's ``PATCH {"enabled": true}``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from functools import partial

from signet_sdk.ids import derived_id, now_ms

from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.outcomes import OutcomeWriter
from signet.backoff import retry_until_done
from signet.errors import BrokerError
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import (
    CommandKind,
    Delivery,
    Destination,
    Outcome,
    OutcomeStatus,
    WorkspaceCommand,
)

logger = logging.getLogger(__name__)

REMEMBERED = 10_000


def disable_command(
    workspace_id: str, destination: Destination, reason: str, issued_at: int
) -> WorkspaceCommand:
    return WorkspaceCommand(
        # The same for every replica and redo that disables this version of the destination.
        id=derived_id(
            "cmd",
            "disable",
            destination.id,
            str(destination.updated_at),
            at_ms=destination.updated_at,
        ),
        workspace_id=workspace_id,
        kind=CommandKind.DISABLE_DESTINATION.value,
        issued_at=issued_at,
        target_id=destination.id,
        reason=reason,
    )


class DestinationDisabler:
    def __init__(
        self,
        producer: AsyncProducer,
        topics: Topics,
        outcomes: OutcomeWriter,
        metrics: DispatcherMetrics,
    ) -> None:
        self._producer = producer
        self._topic = topics.workspace_commands
        self._outcomes = outcomes
        self._metrics = metrics
        # Versions disabled (or being disabled) by this process: decide once, not per retry.
        self._decided: OrderedDict[tuple[str, int], None] = OrderedDict()

    async def disable(
        self,
        delivery: Delivery,
        destination: Destination,
        *,
        reason: str,
        cause: str,
        http_status: int | None = None,
    ) -> bool:
        """Disable ``destination``; False when this process already did for this version."""
        key = (destination.id, destination.updated_at)
        if key in self._decided:
            return False
        self._decided[key] = None
        while len(self._decided) > REMEMBERED:
            self._decided.popitem(last=False)
        try:
            now = now_ms()
            command = disable_command(delivery.workspace_id, destination, reason, now)
            await self._send(command)
            await self._outcomes.write(
                disabled_outcome(delivery, destination, reason, http_status, command.id, now)
            )
        except BaseException:
            self._decided.pop(key, None)  # not done: the next failure decides again
            raise
        self._metrics.disabled.labels(cause).inc()
        logger.warning("disabled destination %s: %s", destination.id, reason)
        return True

    async def _send(self, command: WorkspaceCommand) -> None:
        value = codec.encode(command)
        await retry_until_done(
            partial(self._producer.send, self._topic, value, key=command.workspace_id),
            retry_on=BrokerError,
            on_retry=lambda exc, _: logger.warning(
                "disable command %s not acknowledged (%s); retrying", command.id, exc
            ),
        )


def disabled_outcome(
    delivery: Delivery,
    destination: Destination,
    reason: str,
    http_status: int | None,
    command_id: str,
    at: int,
) -> Outcome:
    return Outcome(
        id=derived_id("att", command_id, at_ms=destination.updated_at),
        status=OutcomeStatus.DESTINATION_DISABLED.value,
        delivery_id=delivery.id,
        event_id=delivery.event_id,
        workspace_id=delivery.workspace_id,
        destination_id=destination.id,
        event_type=delivery.event_type,
        attempt=delivery.attempt,
        attempted_at=at,
        event_created_at=delivery.event_created_at,
        url=destination.url,
        http_status=http_status,
        error=reason,
        replay_of=delivery.replay_of,
    )
