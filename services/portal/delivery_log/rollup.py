"""Endpoint health: a rollup of the attempts per destination and 5-minute bucket.

``GET /v1/workspace/destinations/{id}/stats`` must answer from a few rows, not from a scan
of the attempts (a busy destination has millions). So the projection keeps ``log_stats``:
one row per (workspace, destination, 5-minute bucket of the attempt time), updated in the
same transaction that logs the attempts, which makes it exactly as idempotent as the log
(only attempts new to the log are added). A 7-day window reads at most 2,016 rows of one
destination through the primary key.

What a row counts, for the attempts made in its bucket:

- ``delivered``: attempts that delivered (each ends its delivery);
- ``exhausted``: attempts that ended their delivery failing: ``exhausted``, and ``failed``
  without a next attempt (the destination was gone, disabled or refused: no retry);
- ``failed``: every attempt that failed, the last one of an exhausted delivery too;
- ``lat_0`` … ``lat_N``: a fixed histogram of the latency of the attempts that got an
  HTTP answer (``LATENCY_BOUNDS_MS``), which the percentiles are read from.

A ``destination_disabled`` outcome is the alerter's marker after a 410, not an attempt:
the attempt itself was logged on its own. It counts nowhere.

The counting is one SQL ``SELECT`` over ``log_attempts`` (:func:`rollup_select`), used both
for the live update (the attempts of one batch) and the migration's backfill (every
attempt already logged), so the two can never count differently.
"""

# ruff: noqa: S608 - statements are assembled from constants; values are always bound.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.portal.delivery_log.database import Connection, chunks, in_list

BUCKET_MS = 5 * 60 * 1000
# Upper bounds (exclusive) of the latency buckets, in ms; one more bucket holds the rest.
# About 1.5x apart, so a percentile read from them is within a bucket of the truth.
LATENCY_BOUNDS_MS = (
    5,
    10,
    20,
    35,
    50,
    75,
    100,
    150,
    200,
    300,
    450,
    650,
    1000,
    1500,
    2000,
    3000,
    5000,
    7500,
    10000,
    15000,
    30000,
)
LATENCY_COLUMNS = tuple(f"lat_{i}" for i in range(len(LATENCY_BOUNDS_MS) + 1))
COUNT_COLUMNS = ("delivered", "failed", "exhausted")
SUMMED = (*COUNT_COLUMNS, *LATENCY_COLUMNS)
_KEY = ("workspace_id", "destination_id", "bucket_start")

# Table and index (``{BIGINT}`` is filled in per dialect by schema.py).
TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS log_stats (\n"
    "    workspace_id TEXT NOT NULL,\n"
    "    destination_id TEXT NOT NULL,\n"
    "    bucket_start {BIGINT} NOT NULL,\n"
    + "".join(f"    {c} {{BIGINT}} NOT NULL,\n" for c in SUMMED)
    + "    PRIMARY KEY (workspace_id, destination_id, bucket_start)\n)"
)
# Retention deletes by age, across workspaces.
INDEX_DDL = "CREATE INDEX IF NOT EXISTS log_stats_by_start ON log_stats (bucket_start)"

_ANSWERED = "http_status IS NOT NULL AND latency_ms IS NOT NULL"


def _latency_case(index: int) -> str:
    low = 0 if index == 0 else LATENCY_BOUNDS_MS[index - 1]
    condition = f"{_ANSWERED} AND latency_ms >= {low}"
    if index < len(LATENCY_BOUNDS_MS):
        condition += f" AND latency_ms < {LATENCY_BOUNDS_MS[index]}"
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


_COUNTS = {
    "delivered": "CASE WHEN status = 'delivered' THEN 1 ELSE 0 END",
    "failed": "CASE WHEN status IN ('failed', 'exhausted') THEN 1 ELSE 0 END",
    "exhausted": (
        "CASE WHEN status = 'exhausted' OR (status = 'failed' AND next_attempt_at IS NULL) "
        "THEN 1 ELSE 0 END"
    ),
    **{column: _latency_case(i) for i, column in enumerate(LATENCY_COLUMNS)},
}
_BUCKET = f"(attempted_at / {BUCKET_MS}) * {BUCKET_MS}"


def rollup_select(where: str) -> str:
    """The rollup rows of the attempts matching ``where``, one per (workspace, destination,
    bucket); the same statement fills the table live and in the backfill."""
    sums = ", ".join(f"SUM({_COUNTS[c]}) AS {c}" for c in SUMMED)
    return (
        f"SELECT workspace_id, destination_id, {_BUCKET} AS bucket_start, {sums} "
        f"FROM log_attempts WHERE ({where}) AND status <> 'destination_disabled' "
        f"GROUP BY workspace_id, destination_id, {_BUCKET}"
    )


def upsert(where: str) -> str:
    """Add the rollup of the attempts matching ``where`` to ``log_stats``."""
    added = ", ".join(f"{c} = log_stats.{c} + excluded.{c}" for c in SUMMED)
    return (
        f"INSERT INTO log_stats ({', '.join((*_KEY, *SUMMED))}) {rollup_select(where)} "
        f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET {added}"
    )


# The migration's backfill: every attempt already in the log (an empty log adds nothing).
BACKFILL = upsert("1 = 1")


async def add_attempts(conn: Connection, ids: dict[str, list[str]], chunk: int) -> None:
    """Count the attempts just logged (ids by workspace) into the rollup. Called inside the
    transaction that inserted them, and only for attempts new to the log."""
    for workspace_id, attempt_ids in ids.items():
        for part in chunks(attempt_ids, chunk):
            await conn.execute(
                upsert(f"workspace_id = ? AND id IN {in_list(len(part))}"),
                workspace_id,
                *part,
            )


async def purge_buckets(
    conn: Connection, before_ms: int, max_rows: int, scope: str = "", scoped: Sequence[str] = ()
) -> int:
    """Delete buckets that ended before ``before_ms`` (retention's cut-off); ``scope`` is
    retention's ``AND workspace_id …`` (one workspace, or all but those with their own)."""
    return await conn.execute(
        "DELETE FROM log_stats WHERE (workspace_id, destination_id, bucket_start) IN "
        "(SELECT workspace_id, destination_id, bucket_start FROM log_stats "
        f"WHERE bucket_start < ?{scope} LIMIT ?)",
        before_ms - BUCKET_MS,
        *scoped,
        max_rows,
    )


# -- reading ------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Latency:
    p50: float
    p95: float


@dataclass(slots=True, frozen=True)
class StatsBucket:
    start: int  # epoch ms
    delivered: int
    failed: int
    exhausted: int
    latency: Latency | None


@dataclass(slots=True, frozen=True)
class DestinationStats:
    """One destination's health over ``[start, end)``, in buckets of ``bucket_ms``."""

    start: int
    end: int
    delivered: int
    failed: int
    exhausted: int
    latency: Latency | None
    buckets: tuple[StatsBucket, ...]

    @property
    def success_rate(self) -> float | None:
        ended = self.delivered + self.exhausted
        return None if ended == 0 else self.delivered / ended


def percentile(histogram: Sequence[int], fraction: float) -> float | None:
    """The ``fraction`` quantile of a latency histogram (``LATENCY_BOUNDS_MS``), linear
    within the bucket it falls in; the open last bucket answers its lower bound. None for
    an empty histogram."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = fraction * total
    below = 0
    for index, count in enumerate(histogram):
        if count and below + count >= rank:
            low = 0.0 if index == 0 else float(LATENCY_BOUNDS_MS[index - 1])
            if index == len(LATENCY_BOUNDS_MS):
                return low
            high = float(LATENCY_BOUNDS_MS[index])
            return round(low + (high - low) * (rank - below) / count, 1)
        below += count
    return float(LATENCY_BOUNDS_MS[-1])  # not reached: the loop ends at total >= rank


def latency_of(histogram: Sequence[int]) -> Latency | None:
    p50, p95 = percentile(histogram, 0.5), percentile(histogram, 0.95)
    return None if p50 is None or p95 is None else Latency(p50, p95)


async def read_stats(
    conn: Connection,
    workspace_id: str,
    destination_id: str,
    *,
    start: int,
    bucket_ms: int,
    count: int,
) -> DestinationStats:
    """``count`` buckets of ``bucket_ms`` (a multiple of ``BUCKET_MS``) from ``start`` on,
    empty ones included; summed in the database from the rollup's rows."""
    end = start + bucket_ms * count
    sums = ", ".join(f"SUM({c}) AS {c}" for c in SUMMED)
    rows = await conn.fetch(
        f"SELECT (bucket_start - ?) / ? AS slot, {sums} FROM log_stats "
        "WHERE workspace_id = ? AND destination_id = ? AND bucket_start >= ? AND bucket_start < ? "
        "GROUP BY 1",
        start,
        bucket_ms,
        workspace_id,
        destination_id,
        start,
        end,
    )
    by_slot = {int(row["slot"]): row for row in rows}
    zero = dict.fromkeys(SUMMED, 0)
    buckets = []
    totals = dict(zero)
    for slot in range(count):
        row = by_slot.get(slot, zero)
        values = {c: int(row[c]) for c in SUMMED}
        for c in SUMMED:
            totals[c] += values[c]
        buckets.append(
            StatsBucket(
                start=start + slot * bucket_ms,
                delivered=values["delivered"],
                failed=values["failed"],
                exhausted=values["exhausted"],
                latency=latency_of([values[c] for c in LATENCY_COLUMNS]),
            )
        )
    return DestinationStats(
        start=start,
        end=end,
        delivered=totals["delivered"],
        failed=totals["failed"],
        exhausted=totals["exhausted"],
        latency=latency_of([totals[c] for c in LATENCY_COLUMNS]),
        buckets=tuple(buckets),
    )
