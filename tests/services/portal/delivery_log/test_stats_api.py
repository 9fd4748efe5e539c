"""``GET /v1/workspace/destinations/{id}/stats`` with the portal running (real broker, the
projection filling the rollup, SQLite and PostgreSQL): the answer's shape and counts per
window, a bad window, and 404s for a destination not in the session's workspace."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from signet_sdk.ids import now_ms

from signet.records.model import OutcomeStatus
from tests.eventually import eventually
from tests.services.portal.delivery_log.records import delivery, outcome
from tests.services.portal.delivery_log.test_log_api import LogPortal, log_portal

__all__ = ["log_portal"]  # the module-scoped portal, per backend
pytestmark = pytest.mark.timeout(180)

DESTINATIONS = "/v1/workspace/destinations"
MINUTE = 60_000


def stats_path(destination_id: str, query: str = "") -> str:
    return f"{DESTINATIONS}/{destination_id}/stats{query}"


async def new_destination(portal: LogPortal, token: str) -> str:
    made = await portal.client.workspace(
        token, "POST", DESTINATIONS, {"name": "Orders", "url": "https://hooks.example.com/in"}
    )
    assert made.status == 201, made.text
    return str(made.json["id"])


def parsed(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


async def test_a_destinations_health_per_window(log_portal: LogPortal) -> None:
    workspace = (await log_portal.client.new_workspace())["id"]
    token = await log_portal.client.session(workspace)
    viewer = await log_portal.client.session(workspace, role="viewer")
    dst = await new_destination(log_portal, token)
    now = now_ms()
    ok, retried, dead = (delivery(workspace, dst) for _ in range(3))
    failed = OutcomeStatus.FAILED
    await log_portal.send(
        ok,
        retried,
        dead,
        outcome(ok, attempted_at=now - 2 * MINUTE, latency_ms=40.0),
        # A timeout: no HTTP answer, so no latency to count.
        outcome(
            retried,
            failed,
            attempted_at=now - 3 * MINUTE,
            next_attempt_at=now,
            http_status=None,
            latency_ms=10_000.0,
        ),
        outcome(retried, attempt=2, attempted_at=now - MINUTE, latency_ms=60.0),
        # Two hours ago: in the day and the week, not in the last hour.
        outcome(dead, OutcomeStatus.EXHAUSTED, attempted_at=now - 120 * MINUTE, latency_ms=45.0),
    )

    async def day() -> dict[str, Any] | None:
        """The default window (24h) as a viewer sees it, once every attempt is counted."""
        answer = await log_portal.client.workspace(viewer, "GET", stats_path(dst))
        assert answer.status == 200, answer.text
        body: dict[str, Any] = answer.json
        return body if (body["delivered"], body["exhausted"]) == (2, 1) else None

    body = await eventually(day, "every attempt in the rollup")
    assert set(body) == {
        "window", "delivered", "failed", "exhausted", "success_rate", "latency_ms", "buckets"
    }  # fmt: skip
    assert (body["window"], body["failed"]) == ("24h", 2)
    assert body["success_rate"] == pytest.approx(2 / 3)
    # Answered in 40, 45 and 60 ms: the median in the [35, 50) ms bucket, p95 in [50, 75).
    assert 35 <= body["latency_ms"]["p50"] <= 50 and 50 <= body["latency_ms"]["p95"] <= 75
    starts = [parsed(b["start"]) for b in body["buckets"]]
    assert len(starts) == 24 and all(b["start"].endswith("Z") for b in body["buckets"])
    assert all(later - earlier == 60 * MINUTE for earlier, later in pairwise(starts))
    assert starts[0] % (60 * MINUTE) == 0 and starts[-1] <= now_ms() < starts[-1] + 60 * MINUTE
    assert sum(b["delivered"] for b in body["buckets"]) == 2

    hour = await log_portal.client.workspace(token, "GET", stats_path(dst, "?window=1h"))
    assert hour.status == 200, hour.text
    assert (hour.json["delivered"], hour.json["failed"], hour.json["exhausted"]) == (2, 1, 0)
    assert hour.json["success_rate"] == 1.0 and len(hour.json["buckets"]) == 12
    empty = [b for b in hour.json["buckets"] if b["delivered"] + b["failed"] == 0]
    assert empty and all(b["latency_ms"] is None and b["exhausted"] == 0 for b in empty)

    week = await log_portal.client.workspace(token, "GET", stats_path(dst, "?window=7d"))
    assert week.status == 200 and len(week.json["buckets"]) == 28
    assert week.json["delivered"] == 2 and week.json["exhausted"] == 1
    assert parsed(week.json["buckets"][0]["start"]) % (360 * MINUTE) == 0


@pytest.mark.parametrize("query", ["?window=2h", "?window=", "?window=1h&window=7d", "?window=1H"])
async def test_a_window_it_does_not_know_is_a_field_error(
    log_portal: LogPortal, query: str
) -> None:
    workspace = (await log_portal.client.new_workspace())["id"]
    token = await log_portal.client.session(workspace)
    dst = await new_destination(log_portal, token)
    answer = await log_portal.client.workspace(token, "GET", stats_path(dst, query))
    assert answer.status == 400, answer.text
    assert set(answer.field_errors()) == {"window"}


async def test_another_workspaces_destination_is_not_found(log_portal: LogPortal) -> None:
    first = (await log_portal.client.new_workspace())["id"]
    second = (await log_portal.client.new_workspace())["id"]
    token = await log_portal.client.session(first)
    other = await new_destination(log_portal, await log_portal.client.session(second))
    assert (await log_portal.client.workspace(token, "GET", stats_path(other))).status == 404
    assert (await log_portal.client.workspace(token, "GET", stats_path("dst_none"))).status == 404
    no_token = await log_portal.client.call("GET", stats_path(other))
    assert no_token.status == 401
