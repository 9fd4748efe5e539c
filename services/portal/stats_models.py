"""Endpoint health as the API shows it: the query (``window``) and the answer, as models.

``GET /v1/workspace/destinations/{id}/stats?window=1h|24h|7d`` (default ``24h``). A window
is a whole number of buckets (5 minutes for 1h, 1 hour for 24h, 6 hours for 7d) aligned on
UTC multiples of the bucket size, ending with the bucket that holds now: so ``1h`` is the
current 5-minute bucket and the 11 before it. The counts come from the delivery log's
rollup (``delivery_log/rollup.py``), which says what each outcome counts as.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, WithJsonSchema
from signet_sdk.contract.models import Answer

from services.portal.delivery_log.rollup import DestinationStats, Latency, StatsBucket
from services.portal.queries import QueryModel
from services.portal.views import Time, at

MINUTE_MS = 60_000


class StatsWindow(StrEnum):
    HOUR = "1h"
    DAY = "24h"
    WEEK = "7d"

    @property
    def bucket_ms(self) -> int:
        return {"1h": 5, "24h": 60, "7d": 360}[self.value] * MINUTE_MS

    @property
    def buckets(self) -> int:
        return {"1h": 12, "24h": 24, "7d": 28}[self.value]

    def start(self, now_ms: int) -> int:
        """The first bucket's start: the window ends with the bucket holding ``now_ms``."""
        end = (now_ms // self.bucket_ms + 1) * self.bucket_ms
        return end - self.bucket_ms * self.buckets


class StatsQuery(QueryModel):
    """The query of ``GET /v1/workspace/destinations/{id}/stats``."""

    window: Annotated[
        StatsWindow,
        WithJsonSchema({"type": "string", "enum": [w.value for w in StatsWindow]}),
    ] = Field(
        StatsWindow.DAY,
        description="1h (5-minute buckets), 24h (hourly) or 7d (6-hour buckets)",
    )


class LatencyPercentiles(Answer):
    """Over the attempts that got an HTTP answer, read from a fixed histogram: each value
    is within its histogram bucket of the exact percentile."""

    p50: float = Field(description="median latency, ms")
    p95: float = Field(description="95th percentile latency, ms")

    @classmethod
    def of(cls, latency: Latency | None) -> LatencyPercentiles | None:
        return None if latency is None else cls(p50=latency.p50, p95=latency.p95)


class HealthBucket(Answer):
    """One bucket of the window; empty ones are sent too, with zeros."""

    start: Time
    delivered: int = Field(description="deliveries that ended delivered in this bucket")
    failed: int = Field(description="attempts that failed in this bucket")
    exhausted: int = Field(description="deliveries that ended failing (no retry left)")
    latency_ms: LatencyPercentiles | None = Field(description="null when no attempt was answered")

    @classmethod
    def of(cls, bucket: StatsBucket) -> HealthBucket:
        return cls(
            start=at(bucket.start),
            delivered=bucket.delivered,
            failed=bucket.failed,
            exhausted=bucket.exhausted,
            latency_ms=LatencyPercentiles.of(bucket.latency),
        )


class EndpointHealth(Answer):
    """A destination's health over the window."""

    window: StatsWindow
    delivered: int = Field(description="deliveries that ended delivered in the window")
    failed: int = Field(description="failed attempts in the window (retried or not)")
    exhausted: int = Field(
        description="deliveries that ended failing in the window: out of attempts, or a "
        "failure that is not retried"
    )
    success_rate: float | None = Field(
        description="delivered / (delivered + exhausted); null when both are 0"
    )
    latency_ms: LatencyPercentiles | None = Field(
        description="over attempts that got an HTTP answer; null when none did"
    )
    buckets: list[HealthBucket] = Field(description="oldest first, empty ones included")

    @classmethod
    def of(cls, window: StatsWindow, stats: DestinationStats) -> EndpointHealth:
        return cls(
            window=window,
            delivered=stats.delivered,
            failed=stats.failed,
            exhausted=stats.exhausted,
            success_rate=stats.success_rate,
            latency_ms=LatencyPercentiles.of(stats.latency),
            buckets=[HealthBucket.of(b) for b in stats.buckets],
        )
