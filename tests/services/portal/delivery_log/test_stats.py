"""Endpoint health from the rollup, the same suite on SQLite and PostgreSQL: what each
outcome counts as, buckets (empty ones too), latency percentiles, idempotence, the
migration's backfill of an existing log, and retention."""

from __future__ import annotations

import pytest
from signet_sdk.ids import new_id

from services.portal.delivery_log import rollup
from services.portal.delivery_log.rollup import (
    BUCKET_MS,
    LATENCY_BOUNDS_MS,
    DestinationStats,
    Latency,
    percentile,
)
from services.portal.delivery_log.sql_store import SqlLogStore
from services.portal.delivery_log.store import ProjectionBatch
from signet.records.model import Delivery, Outcome, OutcomeStatus
from tests.services.portal.delivery_log.records import delivery, outcome
from tests.services.portal.delivery_log.store_calls import second_store

pytestmark = pytest.mark.timeout(60)

HOUR = 3_600_000
START = 1_760_400_000_000 - 1_760_400_000_000 % HOUR  # an hour boundary (2025)
NOW = START + 2 * HOUR


async def put(store: SqlLogStore, deliveries: list[Delivery], outcomes: list[Outcome]) -> None:
    await store.apply(ProjectionBatch(deliveries, outcomes), now_ms=NOW)


async def hourly(store: SqlLogStore, ws: str, dst: str, count: int = 2) -> DestinationStats:
    return await store.destination_stats(ws, dst, start=START, bucket_ms=HOUR, count=count)


def at(minutes: float) -> int:
    return START + int(minutes * 60_000)


async def test_what_each_outcome_counts_as(store: SqlLogStore) -> None:
    ws, dst = new_id("ws"), "dst_health"
    ok, retried, exhausted, refused, gone = (delivery(ws, dst) for _ in range(5))
    failed = OutcomeStatus.FAILED
    outcomes = [
        outcome(ok, attempted_at=at(1)),
        # Failed twice (retried), then delivered: two failed attempts, one delivery.
        outcome(retried, failed, attempted_at=at(2), next_attempt_at=at(3)),
        outcome(retried, failed, attempt=2, attempted_at=at(3), next_attempt_at=at(5)),
        outcome(retried, attempt=3, attempted_at=at(61)),
        # Retried, then its last allowed attempt: two failed attempts, one exhausted.
        outcome(exhausted, failed, attempted_at=at(4), next_attempt_at=at(6)),
        outcome(exhausted, OutcomeStatus.EXHAUSTED, attempt=2, attempted_at=at(62)),
        # A failure that is not retried (no next attempt) ended the delivery: exhausted.
        outcome(refused, failed, attempted_at=at(63), http_status=None, latency_ms=None),
        # The alerter's marker after a 410 is not an attempt: it counts nowhere.
        outcome(gone, failed, attempted_at=at(64), http_status=410, next_attempt_at=at(70)),
        outcome(gone, OutcomeStatus.DESTINATION_DISABLED, attempted_at=at(64), http_status=410),
    ]
    await put(store, [ok, retried, exhausted, refused, gone], outcomes)
    # Neither another destination's attempts nor another workspace's count here.
    other_dst = delivery(ws, "dst_other")
    other_ws = delivery(new_id("ws"), dst)
    await put(
        store,
        [other_dst, other_ws],
        [outcome(other_dst, attempted_at=at(1)), outcome(other_ws, attempted_at=at(1))],
    )

    stats = await hourly(store, ws, dst)
    assert (stats.delivered, stats.failed, stats.exhausted) == (2, 6, 2)
    assert stats.success_rate == 0.5
    first, second = stats.buckets
    assert (first.start, first.delivered, first.failed, first.exhausted) == (START, 1, 3, 0)
    assert (second.start, second.delivered, second.failed, second.exhausted) == (
        START + HOUR,
        1,
        3,
        2,
    )


async def test_empty_buckets_are_included_with_zeros(store: SqlLogStore) -> None:
    ws, dst = new_id("ws"), "dst_quiet"
    d = delivery(ws, dst)
    await put(store, [d], [outcome(d, attempted_at=at(125))])  # in the third hour only
    stats = await store.destination_stats(ws, dst, start=START, bucket_ms=HOUR, count=4)
    assert [b.start for b in stats.buckets] == [START + i * HOUR for i in range(4)]
    assert [b.delivered for b in stats.buckets] == [0, 0, 1, 0]
    assert [b.latency is None for b in stats.buckets] == [True, True, False, True]
    assert stats.end == START + 4 * HOUR
    # An attempt exactly at the end of the window is outside it.
    later = delivery(ws, dst)
    await put(store, [later], [outcome(later, attempted_at=START + 4 * HOUR)])
    assert (await store.destination_stats(ws, dst, start=START, bucket_ms=HOUR, count=4)) == stats


async def test_nothing_logged_answers_zeros_and_no_rate(store: SqlLogStore) -> None:
    stats = await hourly(store, new_id("ws"), "dst_none")
    assert (stats.delivered, stats.failed, stats.exhausted) == (0, 0, 0)
    assert stats.success_rate is None and stats.latency is None
    assert len(stats.buckets) == 2


async def test_latency_percentiles_over_attempts_that_got_an_answer(store: SqlLogStore) -> None:
    ws, dst = new_id("ws"), "dst_latency"
    deliveries = [delivery(ws, dst) for _ in range(20)]
    # 19 answers between 10 and 20 ms, one slow one at 800 ms; a timeout has no answer.
    latencies = [10.0 + i * 0.5 for i in range(19)] + [800.0]
    outcomes = [
        outcome(d, attempted_at=at(10), latency_ms=ms)
        for d, ms in zip(deliveries, latencies, strict=True)
    ]
    timeout = delivery(ws, dst)
    outcomes.append(
        outcome(
            timeout,
            OutcomeStatus.FAILED,
            attempted_at=at(11),
            http_status=None,
            latency_ms=30_000.0,
            next_attempt_at=at(20),
        )
    )
    await put(store, [*deliveries, timeout], outcomes)
    stats = await hourly(store, ws, dst)
    histogram = [0] * len(rollup.LATENCY_COLUMNS)
    for ms in latencies:
        histogram[sum(1 for bound in LATENCY_BOUNDS_MS if ms >= bound)] += 1
    expected = Latency(percentile(histogram, 0.5) or 0, percentile(histogram, 0.95) or 0)
    assert stats.latency == expected
    assert 10 <= expected.p50 <= 20  # the bucket [10, 20) ms holds the median
    assert 10 <= expected.p95 <= 20  # 19 of 20 answers are under 20 ms
    assert stats.buckets[0].latency == expected and stats.buckets[1].latency is None


def test_percentiles_read_from_a_histogram() -> None:
    histogram = [0] * len(rollup.LATENCY_COLUMNS)
    assert percentile(histogram, 0.5) is None
    histogram[2] = 10  # ten answers in [10, 20) ms
    assert percentile(histogram, 0.5) == 15.0  # linear within the bucket
    assert percentile(histogram, 0.95) == 19.5
    histogram[-1] = 90  # ninety slower than the last bound: that bound is all we know
    assert percentile(histogram, 0.95) == float(LATENCY_BOUNDS_MS[-1])


async def test_records_read_twice_count_once(store: SqlLogStore) -> None:
    ws, dst = new_id("ws"), "dst_twice"
    d = delivery(ws, dst)
    batch = [outcome(d, OutcomeStatus.FAILED, attempted_at=at(1), next_attempt_at=at(2))]
    batch.append(outcome(d, attempt=2, attempted_at=at(2)))
    await put(store, [d], batch)
    once = await hourly(store, ws, dst)
    await put(store, [d], batch)
    await put(store, [d], batch[:1])
    assert await hourly(store, ws, dst) == once
    assert (once.delivered, once.failed) == (1, 1)


async def test_the_migration_backfills_an_existing_log(store: SqlLogStore) -> None:
    ws, dst = new_id("ws"), "dst_backfill"
    deliveries = [delivery(ws, dst) for _ in range(30)]
    outcomes = [
        outcome(
            d,
            OutcomeStatus.FAILED if i % 3 else OutcomeStatus.DELIVERED,
            attempted_at=at(i * 4),
            latency_ms=float(7 * i),
        )
        for i, d in enumerate(deliveries)
    ]
    await put(store, deliveries, outcomes)
    live = await store.destination_stats(ws, dst, start=START, bucket_ms=BUCKET_MS, count=24)
    assert live.delivered == 10 and live.exhausted == 20

    # A log from before the migration: no rollup table, no record of migration 1.
    async with store.database.write() as conn:
        await conn.execute("DROP TABLE log_stats")
        await conn.execute("DELETE FROM log_migrations WHERE number = 1")
    reopened = await second_store(store)
    try:
        backfilled = await reopened.destination_stats(
            ws, dst, start=START, bucket_ms=BUCKET_MS, count=24
        )
        assert backfilled == live
        async with reopened.database.read() as conn:
            rows = await conn.fetch("SELECT number, name FROM log_migrations ORDER BY number")
        assert rows[0] == {"number": 1, "name": "log_stats"}
        assert [row["number"] for row in rows] == list(range(1, len(rows) + 1))
    finally:
        await reopened.stop()
    # Opening again runs nothing twice.
    again = await second_store(store)
    try:
        assert (
            await again.destination_stats(ws, dst, start=START, bucket_ms=BUCKET_MS, count=24)
        ) == live
    finally:
        await again.stop()


async def test_retention_deletes_buckets_past_the_cut_off(store: SqlLogStore) -> None:
    ws, dst = new_id("ws"), "dst_old"
    old, recent = delivery(ws, dst), delivery(ws, dst)
    await put(
        store,
        [old, recent],
        [outcome(old, attempted_at=at(1)), outcome(recent, attempted_at=at(70))],
    )
    # The cut-off inside the second hour: the first hour's bucket ended before it.
    purged = await store.purge(at(66))
    assert purged.buckets == 1
    stats = await hourly(store, ws, dst)
    assert [b.delivered for b in stats.buckets] == [0, 1]
    # A bucket the cut-off falls inside stays whole.
    assert (await store.purge(at(72))).buckets == 0


async def test_retention_of_one_workspace_keeps_the_others_buckets(store: SqlLogStore) -> None:
    own, other = new_id("ws"), new_id("ws")
    mine, theirs = delivery(own, "dst_a"), delivery(other, "dst_a")
    await put(
        store,
        [mine, theirs],
        [outcome(mine, attempted_at=at(1)), outcome(theirs, attempted_at=at(1))],
    )
    assert (await store.purge(at(66), workspace_id=own)).buckets == 1
    assert (await hourly(store, own, "dst_a")).delivered == 0
    assert (await hourly(store, other, "dst_a")).delivered == 1
    # The global cut-off passes over the workspaces with a retention of their own.
    assert (await store.purge(at(66), excluding=[other])).buckets == 0
    assert (await store.purge(at(66))).buckets == 1
