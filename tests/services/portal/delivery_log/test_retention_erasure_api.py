"""Retention and erasure with the portal running (real broker, real router, SQLite and
PostgreSQL): ``PATCH /v1/workspaces/{id}`` and the retention that follows it, and
``DELETE /v1/workspace/events/{id}/payload`` end to end: the projection erases, a later
copy stays without its body, replay and recover answer 409 ``payload_erased``, and the
chain with its erasure entry passes ``signet verify-log`` (and fails once that entry is
altered)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest
from signet_sdk.ids import now_ms

from services.portal.delivery_log.store import ProjectionBatch
from signet.cli import main as signet
from signet.records.model import OutcomeStatus
from tests.eventually import eventually
from tests.services.portal.conftest import Answer
from tests.services.portal.delivery_log import test_log_api
from tests.services.portal.delivery_log.records import delivery, outcome
from tests.services.portal.delivery_log.test_log_api import LogPortal

pytestmark = pytest.mark.timeout(180)

log_portal = test_log_api.log_portal  # the same portal, one per backend, for this module

DAY = 86_400_000
EVENTS = "/v1/workspace/events"
DESTINATIONS = "/v1/workspace/destinations"


def workspace_path(workspace_id: str) -> str:
    return f"/v1/workspaces/{workspace_id}"


# -- a workspace's own retention -------------------------------------------------------


async def test_patch_sets_the_retention_and_get_shows_it(log_portal: LogPortal) -> None:
    client = log_portal.client
    workspace_id = (await client.new_workspace())["id"]
    path = workspace_path(workspace_id)
    assert (await client.operator("GET", path)).json["log_retention_days"] is None

    patched = await client.operator("PATCH", path, {"log_retention_days": 7})
    assert patched.status == 200, patched.text
    assert patched.json["log_retention_days"] == 7 and patched.json["id"] == workspace_id
    assert (await client.operator("GET", path)).json["log_retention_days"] == 7
    listed = await client.operator("GET", "/v1/workspaces?limit=500")
    assert {w["id"]: w["log_retention_days"] for w in listed.json["data"]}[workspace_id] == 7

    unchanged = await client.operator("PATCH", path, {})  # nothing given, nothing changed
    assert unchanged.status == 200 and unchanged.json["version"] == patched.json["version"]
    reset = await client.operator("PATCH", path, {"log_retention_days": None})
    assert reset.status == 200 and reset.json["log_retention_days"] is None
    assert (await client.operator("GET", path)).json["log_retention_days"] is None


@pytest.mark.parametrize(
    ("value", "code"),
    [(0, "range"), (366, "range"), (-3, "range"), ("30", "type"), (7.5, "type"), (True, "type")],
)
async def test_patch_refuses_a_retention_outside_1_to_365(
    log_portal: LogPortal, value: Any, code: str
) -> None:
    client = log_portal.client
    workspace_id = (await client.new_workspace())["id"]
    answer = await client.operator(
        "PATCH", workspace_path(workspace_id), {"log_retention_days": value}
    )
    assert answer.status == 400, answer.text
    assert answer.field_codes() == {"log_retention_days": code}
    assert (await client.operator("GET", workspace_path(workspace_id))).json[
        "log_retention_days"
    ] is None


async def test_patch_refusals(log_portal: LogPortal) -> None:
    client = log_portal.client
    missing = await client.operator("PATCH", workspace_path("ws_nobody"), {"log_retention_days": 7})
    assert missing.status == 404
    workspace_id = (await client.new_workspace())["id"]
    unknown = await client.operator("PATCH", workspace_path(workspace_id), {"retention": 7})
    assert unknown.status == 400 and unknown.field_codes() == {"retention": "unknown"}
    token = await client.session(workspace_id)
    as_session = await client.workspace(
        token, "PATCH", workspace_path(workspace_id), {"log_retention_days": 7}
    )
    assert as_session.status == 401


async def test_the_portals_retention_follows_each_workspaces_own(log_portal: LogPortal) -> None:
    """Rows ten days old: gone from the workspace patched to 7 days, kept in the one on the
    global 30 (the portal's retention reads the workspace's setting from its config view)."""
    client, service = log_portal.client, log_portal.service
    short = (await client.new_workspace())["id"]
    default = (await client.new_workspace())["id"]
    assert (
        await client.operator("PATCH", workspace_path(short), {"log_retention_days": 7})
    ).status == 200
    store = service.delivery_log.store
    aged = {ws: delivery(ws, "dst_a") for ws in (short, default)}
    for sent in aged.values():
        await store.apply(ProjectionBatch([sent], [outcome(sent)]), now_ms=now_ms() - 10 * DAY)
    retention = service.delivery_log.retention
    assert retention is not None

    await retention.purge_once()

    assert await store.get_delivery(short, aged[short].id) is None
    assert await store.attempts(short, aged[short].id) == []
    assert await store.get_delivery(default, aged[default].id) is not None
    assert len(await store.attempts(default, aged[default].id)) == 1


# -- erasure -------------------------------------------------------------------------------


async def _event(portal: LogPortal, token: str, event_id: str) -> Answer:
    return await portal.client.workspace(token, "GET", f"{EVENTS}/{event_id}")


async def test_erasure_end_to_end(
    log_portal: LogPortal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = log_portal.client
    workspace_id = (await client.new_workspace())["id"]
    admin = await client.session(workspace_id)
    viewer = await client.session(workspace_id, role="viewer")
    created = await client.workspace(
        admin, "POST", DESTINATIONS, {"name": "Orders", "url": "https://hooks.x.io/in"}
    )
    assert created.status == 201, created.text
    destination_id = created.json["id"]
    sent = delivery(workspace_id, destination_id, created_at=now_ms() - 60_000)
    kept = delivery(workspace_id, destination_id, created_at=now_ms() - 50_000)
    await log_portal.send(sent, kept, outcome(sent, OutcomeStatus.EXHAUSTED), outcome(kept))

    async def logged() -> Answer | None:
        answer = await _event(log_portal, viewer, sent.event_id)
        ready = answer.status == 200 and answer.json["data"] is not None
        return answer if ready and answer.json["deliveries"][0]["attempts"] else None

    before = await eventually(logged, "the event with its body and attempt")
    assert before.json["data"]["owner"] == workspace_id and before.json["payload_erased_at"] is None
    erase_path = f"{EVENTS}/{sent.event_id}/payload"

    refused = await client.workspace(viewer, "DELETE", erase_path)
    assert refused.status == 403, refused.text
    assert (await client.workspace(admin, "DELETE", f"{EVENTS}/evt_nobody/payload")).status == 404

    accepted = await client.workspace(admin, "DELETE", erase_path)
    assert accepted.status == 202, accepted.text
    assert accepted.json["event_id"] == sent.event_id
    assert accepted.json["erasure_id"].startswith("era_")

    async def erased() -> Answer | None:
        answer = await _event(log_portal, viewer, sent.event_id)
        return answer if answer.json["payload_erased_at"] is not None else None

    after = (await eventually(erased, "the erasure in the log")).json
    assert after["data"] is None and after["resource"] is None and after["resource_id"] is None
    assert [d["id"] for d in after["deliveries"]] == [sent.id]  # the attempts stay
    other = (await _event(log_portal, viewer, kept.event_id)).json
    assert other["data"] is not None and other["payload_erased_at"] is None

    # A later copy of the body (a retry of the delivery, recorded after the erasure) and a
    # later attempt: logged, and the payload stays gone.
    retried = dataclasses.replace(sent, attempt=2)
    late = outcome(sent, OutcomeStatus.FAILED, attempt=2, attempted_at=now_ms())
    await log_portal.send(retried, late)
    store = log_portal.service.delivery_log.store

    async def late_logged() -> bool:
        return any(a.id == late.id for a in await store.attempts(workspace_id, sent.id))

    await eventually(late_logged, "the later attempt in the log")
    record = await store.get_delivery(workspace_id, sent.id)
    assert record is not None and record.body is None
    assert (await _event(log_portal, viewer, sent.event_id)).json["data"] is None

    replay = await client.workspace(admin, "POST", f"/v1/workspace/deliveries/{sent.id}/replay")
    assert replay.status == 409, replay.text
    assert replay.json["type"].endswith("/payload-erased")
    assert replay.field_codes() == {"event_id": "payload_erased"}
    since = "2020-01-01T00:00:00Z"
    recover_path = f"{DESTINATIONS}/{destination_id}/recover"
    recover = await client.workspace(admin, "POST", recover_path, {"since": since})
    assert recover.status == 409, recover.text
    assert recover.field_codes() == {"event_id": "payload_erased"}

    # Erasing again: accepted, nothing sent, the first time stays.
    again = await client.workspace(admin, "DELETE", erase_path)
    assert again.status == 202 and "erasure_id" not in again.json
    assert again.json["payload_erased_at"] == after["payload_erased_at"]

    export = await client.workspace(viewer, "GET", "/v1/workspace/log/export")
    assert export.status == 200, export.text
    lines = export.text.splitlines(keepends=True)
    entries = [orjson.loads(line) for line in lines[:-1]]
    notes = [i for i, e in enumerate(entries) if e.get("kind") == "erasure"]
    assert len(notes) == 1, entries
    assert {k: entries[notes[0]][k] for k in ("event_id", "erased_at", "workspace_id")} == {
        "event_id": sent.event_id,
        "erased_at": after["payload_erased_at"],
        "workspace_id": workspace_id,
    }
    good = tmp_path / "export.jsonl"
    good.write_text(export.text)
    verify = ["verify-log", str(good), "--portal-url", client.base_url]
    assert await asyncio.to_thread(signet, verify) == 0
    assert f"OK: {len(entries)} entries (1 payload erasure)" in capsys.readouterr().out

    # The erasure entry is covered like any attempt: claim another event was erased.
    at = notes[0]
    lines[at] = lines[at].replace(sent.event_id, kept.event_id)
    bad = tmp_path / "tampered.jsonl"
    bad.write_text("".join(lines))
    assert await asyncio.to_thread(signet, [*verify[:1], str(bad), *verify[2:]]) == 1
    assert f"line {at + 1} (seq {at + 1}" in capsys.readouterr().out
