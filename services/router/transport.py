"""Faust's aiokafka consumer, bent to the router's needs (Faust's types stay in the router).

Why the router commits its own offsets
--------------------------------------
Acking only finished work is not enough with faust-streaming 0.15.3: a worker that starts
with a backlog loses records (the crash-safety test lost 1 to 34 events in about 1 run of
8, 1 of 3 with the three kills close together; ``test_router_backlog.py`` reproduces it).

1. Faust drops records it fetched. While a new worker recovers the table, Faust's flow is
   on (it reads the changelog) and aiokafka prefetches every assigned partition. At the
   end of recovery (``Recovery.on_recovery_completed``) Faust resumes the stream
   partitions, awaits a seek to the committed offsets, then calls
   ``flow_control.resume()``, which *clears every agent's channel queue*. Records of the
   backlog delivered into those queues meanwhile are gone, never processed nor acked;
   and its fetch loop has already moved its read offset past them, so when the seek
   makes them come back, they are discarded as already read.
2. Faust then commits past them. ``Consumer._new_offset`` commits the first run of
   consecutive acked offsets. It refuses a run that starts more than one offset after
   the committed one; but the committed offset is itself the next record to process, so
   a hole of exactly that one record is committed over and lost for good (acked 190..231
   with 189 committed: Faust commits 232), and before the first commit nothing is
   checked at all. A longer hole stalls the worker's commits, while it goes on without
   those records until the next restart.

So the router does not use Faust's record of acked offsets: the :class:`Sequencer` hands
each partition's records to the handlers in offset order from the committed offset, reads
any range Faust skipped straight from the broker (``backfill.py``), and keeps the
low-water mark of acknowledged work (:class:`~services.router.sequencer.ProcessedOffsets`).
:class:`RouterConsumer` makes Faust commit exactly those marks, on its usual schedule
(every ``commit_interval_seconds``, on revocation, on stop). A gap shows only when a later
record arrives, and the tail of a backlog has none: so after each recovery the consumer
also seeks back to the committed offsets before its next fetch, and Faust delivers again
what it cleared (the sequencer drops what was already handled).

Why the router reads where the changelog ends
---------------------------------------------
Faust recovers the config table by reading each changelog partition up to the end the
broker reports (ListOffsets), then stops reading it. A short report loses the last
snapshots: the worker routes without those workspaces and dead-letters their commands
("does not exist") until it restarts again. Kafka reports the end exactly; Tansu, the
broker of ``signet up`` and the tests, reports the last batch's base offset + 1, short
whenever the last batch held several records (several commands of one partition applied
together). So :meth:`RouterConsumer.highwaters`, which only the recovery asks, reads on
from the reported end (``BrokerReader.log_ends``; one empty fetch a partition on Kafka)
and gives the end that read reached.

Faust also hard-codes ``fetch_max_wait_ms=1500`` for its consumer, and Tansu answers a
fetch only when the wait runs out: :class:`RouterConsumerThread` applies
``RouterSettings.fetch_wait_max_ms`` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, cast

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, AppT

from .liveness import dead_client_reason
from .sequencer import Partition, ProcessedOffsets

logger = logging.getLogger(__name__)

DeadClientHandler = Callable[[str], None]
# Each partition's end as a read finds it, from the reported ends (BrokerReader.log_ends).
LogEnds = Callable[[Mapping[Partition, int]], Awaitable[dict[Partition, int]]]


async def reported_ends(reported: Mapping[Partition, int]) -> dict[Partition, int]:
    """The ends as the broker reported them (no read: the router's tests of Faust alone)."""
    return dict(reported)


class RouterConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes fetch_max_wait_ms=1500; aiokafka reads it when the consumer starts.
        consumer._fetch_max_wait_ms = cast(RouterTransport, transport).fetch_wait_max_ms
        return consumer


class RouterConsumer(faust_aiokafka.Consumer):
    """Faust's consumer, committing the sequencer's marks, fetching again what it cleared.

    Faust's timer, its revocation handler and its shutdown still decide *when* to commit;
    ``_filter_*`` decide *what*: the next offset to process of each partition. And after
    each recovery, whose ``flow_control.resume()`` empties the agents' queues, the next
    fetch starts again from the committed offsets, so what was cleared comes back even
    when no later record would show the sequencer the gap (the tail of a backlog).
    """

    _refetch = False

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return RouterConsumerThread(self, loop=self.loop, beacon=self.beacon)

    @property
    def _transport(self) -> RouterTransport:
        return cast(RouterTransport, self.transport)

    @property
    def _offsets(self) -> ProcessedOffsets:
        return self._transport.offsets

    def _filter_tps_with_pending_acks(self, topics: Any = None) -> Iterator[TP]:
        for (topic, partition), _ in self._offsets:
            tp = TP(topic, partition)
            if topics is None or tp in topics or topic in topics:
                yield tp

    def _filter_committable_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        # Faust's own record of acked offsets is unused: drop it, or it grows forever.
        self._acked.clear()
        self._acked_index.clear()
        committable = {}
        for tp in tps:
            mark = self._offsets.get((tp.topic, tp.partition))
            committed = self._committed_offset[tp]
            if mark is not None and (committed is None or mark > committed):
                committable[tp] = mark
        return committable

    def resume_flow(self) -> None:
        super().resume_flow()
        # Faust calls this right after flow_control.resume(), which cleared the queues.
        # (Not while it recovers the table: the seek waits for the end of recovery.)
        if not self.app.in_recovery:
            self._refetch = True

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        # Only the table recovery asks: read on past the reported ends (module docstring).
        reported = await super().highwaters(*partitions)
        known = {(tp.topic, tp.partition): end for tp, end in reported.items() if end is not None}
        ends = await self._transport.log_ends(known)
        for (topic, partition), end in ends.items():
            if end != known[(topic, partition)]:
                logger.info(
                    "%s[%d] ends at %d, not %d as the broker reported: recovering to there",
                    topic,
                    partition,
                    end,
                    known[(topic, partition)],
                )
        return {tp: ends.get((tp.topic, tp.partition), end) for tp, end in reported.items()}

    async def _wait_next_records(self, timeout: float) -> Any:
        # Returns after each fetch wait, records or not, and while the broker is away;
        # only a suspended flow (a rebalance) or a blocked pipeline holds it. A round
        # counts if it could fetch: one whose partitions all stay paused (Faust pauses
        # them for rebalances, recoveries and full buffers) spins here consuming nothing.
        found = await super()._wait_next_records(timeout)
        if self._get_active_partitions() or not self.assignment():
            self._transport.alive()
        return found

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        # Here, between two fetches, no record of an earlier fetch is still on its way
        # to the queues: the seek is not undone by deliveries it did not see coming.
        if self._refetch:
            self._refetch = False
            try:
                await self._seek_to_unprocessed()
            except Exception as exc:
                reason = dead_client_reason(exc)
                if reason is not None:
                    # Faust crashes on what we raise; the report says why first.
                    self._transport.on_dead_client(f"the Faust consumer is dead ({reason})")
                    raise
                logger.warning(
                    "seeking back to the committed offsets failed; retrying", exc_info=True
                )
                self._refetch = True
        return await super()._getmany(active_partitions, timeout)

    async def _seek_to_unprocessed(self) -> None:
        if not self.assignment():
            return
        await self.perform_seek()  # to the committed offsets, read offsets reset to them
        never_committed = {
            tp
            for tp in self.assignment()
            if not self._is_changelog_tp(tp) and self._committed_offset[tp] is None
        }
        if never_committed:
            for tp, offset in (await self.earliest_offsets(*never_committed)).items():
                await self.seek(tp, offset)


class RouterTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with the router's consumer, and what that consumer needs."""

    Consumer = RouterConsumer

    def __init__(
        self,
        app: AppT,
        *,
        offsets: ProcessedOffsets,
        fetch_wait_max_ms: int,
        alive: Callable[[], None],
        on_dead_client: DeadClientHandler,
        log_ends: LogEnds = reported_ends,
    ) -> None:
        super().__init__(app.conf.broker_consumer, app)
        self.offsets = offsets
        self.fetch_wait_max_ms = fetch_wait_max_ms
        self.alive = alive
        self.on_dead_client = on_dead_client
        self.log_ends = log_ends
