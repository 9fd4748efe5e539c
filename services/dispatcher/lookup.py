"""Which destination a delivery goes to, as configured *now*, and when to wait for it.

The destination and its secrets are looked up when the attempt is made, not when the
delivery was routed, so an edit, a rotation, a deletion or a disable applies to
deliveries already queued. Deliveries and the configuration reach the dispatcher on two
consumers (the router wrote the config first), so the view may briefly lag what the
router routed with: :meth:`DestinationLookup.find` waits, up to ``config_wait``, for it
to catch up before deciding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from services.dispatcher.errors import DestinationUnavailable
from signet.errors import InvalidRecordError
from signet.records.model import Delivery, Destination, DestinationType, WorkspaceConfig


class DestinationDirectory(Protocol):
    """What the dispatcher reads of the configuration (``signet.kafka.config_view.ConfigView``)."""

    def destination(self, destination_id: str) -> tuple[WorkspaceConfig, Destination] | None: ...

    def workspace(self, workspace_id: str) -> WorkspaceConfig | None: ...

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool: ...


class DestinationLookup:
    def __init__(self, directory: DestinationDirectory, config_wait_seconds: float) -> None:
        self._directory = directory
        self._config_wait = config_wait_seconds

    async def find(self, delivery: Delivery) -> tuple[WorkspaceConfig, Destination]:
        """The workspace and the webhook destination to send to; DestinationUnavailable
        when there is none to send to, InvalidRecordError when the delivery lies."""
        directory, destination_id = self._directory, delivery.destination_id
        await self._catch_up(delivery)
        found = directory.destination(destination_id)
        if found is None and self._config_wait > 0 and self._view_may_lag(delivery):
            await directory.wait_for(
                lambda: (
                    directory.destination(destination_id) is not None
                    or not self._view_may_lag(delivery)
                ),
                self._config_wait,
            )
            found = directory.destination(destination_id)
        if found is None:
            raise DestinationUnavailable("destination deleted")
        config, destination = found
        if config.workspace_id != delivery.workspace_id:
            raise InvalidRecordError(
                f"delivery names workspace {delivery.workspace_id}, but destination "
                f"{destination_id} belongs to {config.workspace_id}"
            )
        if destination.type != DestinationType.WEBHOOK:
            raise DestinationUnavailable(f"destination is a {destination.type}, not a webhook")
        if not destination.enabled:
            reason = f": {destination.disabled_reason}" if destination.disabled_reason else ""
            raise DestinationUnavailable(f"destination disabled{reason}")
        if not destination.url:
            raise DestinationUnavailable("destination has no URL")
        return config, destination

    async def _catch_up(self, delivery: Delivery) -> None:
        """Wait (up to ``config_wait``) until our view of the workspace is at least the
        config the router routed the delivery with: a secret rotated, or a URL changed,
        before the event was emitted applies to it. After the wait, what we have."""
        needed = delivery.config_version
        if needed is None or self._config_wait <= 0 or self._view_version(delivery) >= needed:
            return
        await self._directory.wait_for(
            lambda: self._view_version(delivery) >= needed, self._config_wait
        )

    def _view_version(self, delivery: Delivery) -> int:
        config = self._directory.workspace(delivery.workspace_id)
        return -1 if config is None else config.version

    def _view_may_lag(self, delivery: Delivery) -> bool:
        """True while our view of the workspace may predate the delivery's destination.

        A snapshot written at or after the event was created already reflects any
        destination the router could have routed it to; an older one (or none) may not.
        """
        config = self._directory.workspace(delivery.workspace_id)
        return config is None or config.updated_at < delivery.event_created_at
