"""What the fault tests set up through the real APIs, and how they read what arrived."""

from __future__ import annotations

import base64
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.eventually import eventually
from tests.faults.conftest import FaultStack
from tests.receiver import Receiver


@dataclass(slots=True)
class Workspace:
    id: str
    publishable_key: str
    token: str
    destinations: dict[str, str] = field(default_factory=dict)  # name → id


async def create_workspace(stack: FaultStack, name: str = "Stalls") -> Workspace:
    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": name, "environment": "production"}
    )
    assert status == 201, workspace
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    assert status == 201, session
    return Workspace(workspace["id"], workspace["publishable_key"], session["token"])


async def add_webhook(
    stack: FaultStack, workspace: Workspace, name: str, url: str, **fields: Any
) -> str:
    body = {
        "name": name,
        "url": url,
        "event_types": ["order.*"],
        "secret": "whsec_" + base64.b64encode(os.urandom(32)).decode(),
        **fields,
    }
    status, created = await stack.call(
        "POST", stack.portal_url + "/v1/workspace/destinations", workspace.token, body
    )
    assert status == 201, created
    workspace.destinations[name] = created["id"]
    return str(created["id"])


def webhook_ids(receiver: Receiver) -> Counter[str]:
    """Requests per ``webhook-id``; each body's id must be its webhook-id (a duplicate
    is the same event again, never another id)."""
    seen: Counter[str] = Counter()
    for request in receiver.requests:
        if request.path.startswith("/services/"):
            continue
        webhook_id = request.headers.get("webhook-id") or request.headers.get("Webhook-Id")
        assert webhook_id, request.headers
        assert orjson.loads(request.body)["id"] == webhook_id
        seen[webhook_id] += 1
    return seen


async def wait_until_delivered(
    receiver: Receiver, event_ids: set[str], *, within: float
) -> Counter[str]:
    """Until every one of ``event_ids`` reached ``receiver`` (answered 2xx)."""

    def missing() -> set[str]:
        return event_ids - {
            r.headers.get("webhook-id", "")
            for r in receiver.requests
            if r.status is not None and 200 <= r.status < 300
        }

    def never_reached() -> str:
        left = missing()
        return (
            f"{len(left)} of {len(event_ids)} accepted events never reached "
            f"{receiver.url}, e.g. {sorted(left)[:3]}"
        )

    await eventually(lambda: not missing(), never_reached, within, interval=0.25)
    return webhook_ids(receiver)
