"""Which destinations an event goes to, and the Delivery records for them (pure, no Kafka).

A destination's ``event_types`` patterns: ``*`` matches every type, ``order.*`` matches
every type starting with ``order.``, anything else matches exactly. An empty list
subscribes to nothing. Only enabled ``webhook`` destinations receive events; Slack
destinations are alert channels for the alerter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from signet.records.model import Delivery, Destination, DestinationType, Event, WorkspaceConfig
from signet.records.payload import delivery_id

WILDCARD = "*"
PREFIX_WILDCARD = ".*"


def pattern_matches(pattern: str, event_type: str) -> bool:
    if pattern == WILDCARD:
        return True
    if pattern.endswith(PREFIX_WILDCARD):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


@dataclass(slots=True, frozen=True)
class Subscription:
    """One destination's patterns, compiled for the hot path."""

    destination_id: str
    everything: bool
    exact: frozenset[str]
    prefixes: tuple[str, ...]

    @classmethod
    def of(cls, destination: Destination) -> Subscription:
        patterns = destination.event_types
        return cls(
            destination_id=destination.id,
            everything=WILDCARD in patterns,
            exact=frozenset(p for p in patterns if not p.endswith(PREFIX_WILDCARD)),
            # "order.*" keeps "order." so that "orders.x" does not match.
            prefixes=tuple(p[:-1] for p in patterns if p.endswith(PREFIX_WILDCARD)),
        )

    def matches(self, event_type: str) -> bool:
        return (
            self.everything
            or event_type in self.exact
            or (bool(self.prefixes) and event_type.startswith(self.prefixes))
        )


def receives_events(destination: Destination) -> bool:
    return destination.enabled and destination.type == DestinationType.WEBHOOK


@dataclass(slots=True, frozen=True)
class WorkspaceRoutes:
    """The routing-relevant part of one workspace snapshot."""

    workspace_id: str
    version: int
    subscriptions: tuple[Subscription, ...]

    @classmethod
    def of(cls, config: WorkspaceConfig) -> WorkspaceRoutes:
        return cls(
            workspace_id=config.workspace_id,
            version=config.version,
            subscriptions=tuple(
                Subscription.of(d) for d in config.destinations if receives_events(d)
            ),
        )

    def destinations_for(self, event_type: str) -> list[str]:
        return [s.destination_id for s in self.subscriptions if s.matches(event_type)]


def build_deliveries(
    event: Event,
    destination_ids: Iterable[str],
    body: bytes,
    due_at: int,
    config_version: int | None = None,
) -> list[Delivery]:
    """First attempts of ``event`` to each destination, all carrying the same ``body`` and
    the version of the workspace config they were routed with."""
    return [
        Delivery(
            id=delivery_id(event.id, destination_id, event.created_at),
            event_id=event.id,
            workspace_id=event.workspace_id,
            destination_id=destination_id,
            event_type=event.type,
            body=body,
            attempt=1,
            event_created_at=event.created_at,
            due_at=due_at,
            config_version=config_version,
        )
        for destination_id in destination_ids
    ]
