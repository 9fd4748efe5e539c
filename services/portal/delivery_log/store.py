"""The delivery log's seam: what the portal reads and the projection writes.

Two tables behind it: deliveries (one row per (workspace, delivery id): the exact body
once the ``Delivery`` record was seen, and the state of its newest attempt) and attempts
(one row per (workspace, outcome id): every field of the ``Outcome``, plus its place in the
workspace's hash chain). Every read takes the workspace id and never crosses it: another
workspace's ids are simply not found.

Times are epoch milliseconds. ``since`` is inclusive, ``until`` exclusive, and both filter on
the event's creation time, which never changes, so pages stay stable while the log grows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from services.portal.delivery_log.rollup import DestinationStats
from signet.records.model import Delivery, Outcome, OutcomeStatus, PayloadErasure
from signet.security.hash_chain import ChainHead, Link


class DeliveryStatus(StrEnum):
    """A delivery's state: that of its newest attempt, ``pending`` before the first."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXHAUSTED = "exhausted"

    @classmethod
    def of_outcome(cls, status: str) -> DeliveryStatus:
        # A 410 disables the destination: for the delivery itself that attempt failed.
        if status == OutcomeStatus.DESTINATION_DISABLED.value:
            return cls.FAILED
        return cls(status)


@dataclass(slots=True, frozen=True)
class AttemptRecord:
    """One attempt (one ``Outcome``) as logged, with its link in the chain."""

    id: str
    workspace_id: str
    delivery_id: str
    event_id: str
    destination_id: str
    event_type: str
    status: str  # the Outcome's: delivered | failed | exhausted | destination_disabled
    attempt: int
    attempted_at: int
    event_created_at: int
    url: str | None
    http_status: int | None
    latency_ms: float | None
    error: str | None
    response_excerpt: str | None
    request_headers: Mapping[str, str]
    next_attempt_at: int | None
    replay_of: str | None
    seq: int
    prev_hash: str
    hash: str
    logged_at: int


@dataclass(slots=True, frozen=True)
class DeliverySummary:
    """A delivery as listed: who, what, and the state of its newest attempt."""

    id: str
    workspace_id: str
    destination_id: str
    event_id: str
    event_type: str
    event_created_at: int
    status: DeliveryStatus
    attempts: int
    last_attempt_id: str | None
    last_status: str | None  # the newest Outcome's status
    last_attempt_at: int | None
    last_http_status: int | None
    next_attempt_at: int | None
    replay_of: str | None
    first_seen_at: int
    updated_at: int


@dataclass(slots=True, frozen=True)
class DeliveryRecord(DeliverySummary):
    """A delivery with the exact bytes POSTed; ``body`` is None until its record was seen,
    and for good once the event's payload was erased (``payload_erased_at``)."""

    body: bytes | None
    payload_erased_at: int | None = None


@dataclass(slots=True, frozen=True)
class DeliveryFilter:
    destination_id: str | None = None
    status: DeliveryStatus | None = None
    # Exact type, or a prefix pattern ending in ``.*`` (``order.*``).
    event_type: str | None = None
    since: int | None = None
    until: int | None = None


@dataclass(slots=True, frozen=True)
class DeliveryPage:
    """Newest first (event time, then id); ``next_cursor`` is None on the last page."""

    items: tuple[DeliverySummary, ...]
    next_cursor: str | None


@dataclass(slots=True, frozen=True)
class DeliveryHistory:
    delivery: DeliverySummary
    attempts: tuple[AttemptRecord, ...]  # oldest first


@dataclass(slots=True, frozen=True)
class EventRecord:
    """An event as the log knows it: every delivery of it, each with every attempt."""

    event_id: str
    workspace_id: str
    event_type: str
    created_at: int
    body: bytes | None  # the body POSTed (the same for every destination), if seen
    deliveries: tuple[DeliveryHistory, ...]
    payload_erased_at: int | None = None  # then ``body`` is None for good


@dataclass(slots=True, frozen=True)
class ProjectionBatch:
    """Records consumed together and written in one transaction, in topic order."""

    deliveries: Sequence[Delivery] = ()
    outcomes: Sequence[Outcome] = ()
    erasures: Sequence[PayloadErasure] = ()


@dataclass(slots=True, frozen=True)
class ApplyResult:
    new_deliveries: int = 0
    new_attempts: int = 0
    new_erasures: int = 0
    duplicates: int = 0  # records already in the log (a replay of the topic): no change
    heads: tuple[ChainHead, ...] = field(default_factory=tuple)


@dataclass(slots=True, frozen=True)
class PurgeResult:
    attempts: int = 0
    deliveries: int = 0
    notes: int = 0  # chain entries that are not attempts (erasures)
    buckets: int = 0  # endpoint-health rollup rows (rollup.py)


class LogSnapshot(Protocol):
    """A consistent read of one workspace's chain: entries up to ``head``, nothing newer."""

    @property
    def head(self) -> ChainHead: ...

    def links(self, batch_size: int = 500) -> AsyncIterator[Sequence[Link]]:
        """Every retained entry through ``head.seq``, oldest first, in batches."""
        ...


class LogStore(Protocol):
    """The delivery log database (SQLite or PostgreSQL). ``start``/``stop`` are idempotent."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    # -- reads (all scoped to one workspace) ----------------------------------------------

    async def get_delivery(self, workspace_id: str, delivery_id: str) -> DeliveryRecord | None:
        """The delivery with its body, or None (also for another workspace's id)."""
        ...

    async def list_deliveries(
        self, workspace_id: str, filters: DeliveryFilter, cursor: str | None, limit: int
    ) -> DeliveryPage:
        """A page, newest first. Raises ``InvalidCursor`` for a cursor it did not issue."""
        ...

    async def failed_deliveries(
        self,
        workspace_id: str,
        destination_id: str,
        since: int,
        until: int | None,
        limit: int,
    ) -> list[DeliveryRecord]:
        """Deliveries whose newest attempt failed or exhausted, with bodies, oldest first.

        Filtered on the event's creation time; ``until`` None means no upper bound.
        """
        ...

    async def get_event(self, workspace_id: str, event_id: str) -> EventRecord | None: ...

    async def attempts(self, workspace_id: str, delivery_id: str) -> list[AttemptRecord]:
        """Every attempt of one delivery, oldest first (empty if none or not this workspace's)."""
        ...

    async def wait_for_outcome(
        self,
        workspace_id: str,
        delivery_id: str,
        *,
        after_attempt_id: str | None,
        timeout: float,
    ) -> AttemptRecord | None:
        """The first attempt of the delivery logged after ``after_attempt_id`` (after nothing:
        its first attempt), waiting up to ``timeout`` seconds for it; None on timeout.

        Wakes as soon as this process's projection commits it, and polls the database for
        attempts another replica's projection wrote.
        """
        ...

    async def destination_stats(
        self, workspace_id: str, destination_id: str, *, start: int, bucket_ms: int, count: int
    ) -> DestinationStats:
        """The destination's endpoint health in ``count`` buckets of ``bucket_ms`` from
        ``start`` (epoch ms, both multiples of 5 minutes), from the rollup (rollup.py)."""
        ...

    # -- the chain --------------------------------------------------------------------------

    async def log_head(self, workspace_id: str) -> ChainHead:
        """The newest link (seq 0 and the genesis hash for an empty log)."""
        ...

    def snapshot(self, workspace_id: str) -> AbstractAsyncContextManager[LogSnapshot]:
        """Read the chain consistently while retention and the projection go on."""
        ...

    # -- writes (the projection and retention) ----------------------------------------------

    async def apply(self, batch: ProjectionBatch, *, now_ms: int) -> ApplyResult:
        """Write a batch in one transaction: idempotent (ids already present change
        nothing), and each new outcome extends its workspace's chain exactly once.

        Raises ``StoreUnavailable`` (retry the batch) or ``RecordRejected`` (the data).
        """
        ...

    async def purge(
        self,
        before_ms: int,
        *,
        max_rows: int = 10_000,
        workspace_id: str | None = None,
        excluding: Collection[str] = (),
    ) -> PurgeResult:
        """Delete entries logged before ``before_ms`` as a prefix of each chain (the newest
        such entry and everything before it), and deliveries idle since then; chain heads
        stay. At most about ``max_rows`` rows per call: call again while it deletes some.

        Only in ``workspace_id`` when given; never in the workspaces ``excluding`` names
        (those with a retention of their own).
        """
        ...
