"""Who may call what, on EVERY route: enumerated from the portal's own router and OpenAPI
document, so a route added later is covered (or this test says what it needs to know).

- every API route is in ``/openapi.json``, whose ``security`` says who may call it;
- workspace routes: no, forged, expired or foreign-keyed tokens → 401; a viewer on a
  write → 403; a disallowed Origin → 403; another workspace's ids → 404 (and nothing
  changes); operator routes: no key, a wrong key or a session token → 401;
- secrets and Slack URLs never come back after creation: not in any route's answer, not in
  error messages about them, not in ``/metrics``.

Runs on the real broker and router; the delivery and event ids come from a real
delivery record the portal's log projection read from Kafka.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any

import pytest
from signet_sdk.ids import new_id, now_ms

from services.portal.sessions import Role, SessionSigner
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Delivery, Event
from signet.records.payload import render_body
from signet.security.secrets import MasterKeyRing, generate_master_key
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.services.portal.conftest import PortalClient, RunningPortal

pytestmark = pytest.mark.timeout(300)

DESTINATIONS = "/v1/workspace/destinations"
SLACK_URL = "https://hooks.slack.com/services/T0SECRET/B0SECRET/slackSECRETtoken123456"
PARAM = re.compile(r"{(\w+)}")
# Pages that are not API routes: the embed UI and its assets (the UI calls the API).
NOT_API = ("/embed",)
# POSTs a viewer may make because they change nothing: minting the viewer's own frame URL.
VIEWER_POSTS = {("POST", "/v1/workspace/embed-url")}
ALLOWED_ORIGIN = "https://app.example.com"


def own_whsec() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def api_routes(portal: RunningPortal) -> set[tuple[str, str]]:
    """(METHOD, path) of every route the portal's app serves, from its router."""
    app = portal.service.build_app()
    routes = set()
    for route in app.router.routes():
        info = route.resource.canonical if route.resource is not None else ""
        if route.method in ("HEAD", "OPTIONS") or info.startswith(NOT_API):
            continue
        routes.add((route.method, info))
    return routes


async def openapi(client: PortalClient) -> dict[str, Any]:
    answer = await client.call("GET", "/openapi.json")
    assert answer.status == 200
    document: dict[str, Any] = answer.json
    return document


def operations(document: dict[str, Any], scheme: str) -> list[tuple[str, str]]:
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            schemes = {name for entry in operation.get("security", []) for name in entry}
            if scheme in schemes:
                found.append((method.upper(), path))
    return sorted(found)


def fill(path: str, ids: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in ids:
            pytest.fail(
                f"{path}: teach tests/services/portal/test_security.py an id for {{{name}}}"
            )
        return ids[name]

    return PARAM.sub(one, path)


class World:
    """Workspace A (the victim, with secrets and a logged delivery) and workspace B."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.secrets: list[str] = []
        self.admin_a = self.viewer_a = self.admin_b = self.origin_bound_a = ""

    async def build(self, portal: RunningPortal, kafka: CommonSettings) -> None:
        client = portal.client
        a = await client.new_workspace()
        b = await client.new_workspace()
        self.ids["workspace_id"] = a["id"]
        self.admin_a = await client.session(a["id"])
        self.viewer_a = await client.session(a["id"], role="viewer")
        self.origin_bound_a = await client.session(a["id"], allowed_origins=[ALLOWED_ORIGIN])
        self.admin_b = await client.session(b["id"])
        self.secrets += [a["publishable_key"], b["publishable_key"]]

        mine = own_whsec()
        plain = "a-plain-text-SECRET-of-mine-42"
        bodies = [
            {"name": "Own", "url": "https://hooks.example.com/a", "secret": mine},
            {"name": "Gen", "url": "https://hooks.example.com/b"},
            {
                "name": "Plain",
                "url": "https://hooks.example.com/c",
                "signature_scheme": "hmac-sha256",
                "secret": plain,
            },
            {"type": "slack", "name": "Alerts", "webhook_url": SLACK_URL},
        ]
        created = []
        for body in bodies:
            answer = await client.workspace(self.admin_a, "POST", DESTINATIONS, body)
            assert answer.status == 201, answer.text
            created.append(answer.json)
        self.secrets += [mine, plain, SLACK_URL, created[1]["secret"]]
        self.ids["destination_id"] = created[0]["id"]
        self.ids["key_id"] = a["publishable_keys"][0]["id"]
        # An event type of the catalog (the operator's routes take its name).
        self.ids["name"] = "order.completed"
        rotated = await client.workspace(
            self.admin_a, "POST", f"{DESTINATIONS}/{created[1]['id']}/rotate-secret", {}
        )
        assert rotated.status == 200, rotated.text
        self.secrets.append(rotated.json["secret"])
        await self._logged_delivery(portal, kafka, a["id"], created[0]["id"])

    async def _logged_delivery(
        self, portal: RunningPortal, kafka: CommonSettings, workspace_id: str, dst: str
    ) -> None:
        event = Event(
            id=new_id("evt"),
            workspace_id=workspace_id,
            type="order.completed",
            resource="order",
            resource_id="ord_1",
            payload=b'{"total":1}',
            created_at=now_ms(),
        )
        delivery = Delivery(
            id=new_id("dlv"),
            event_id=event.id,
            workspace_id=workspace_id,
            destination_id=dst,
            event_type=event.type,
            body=render_body(event),
            attempt=1,
            event_created_at=event.created_at,
            due_at=event.created_at,
        )
        async with AsyncProducer(kafka) as producer:
            await producer.send(
                Topics.from_settings(kafka).deliveries, codec.encode(delivery), key=dst, timeout=10
            )
        store = portal.service.delivery_log.store

        async def logged() -> bool:
            return await store.get_delivery(workspace_id, delivery.id) is not None

        await eventually(logged, "the log seeing the delivery record", timeout=30)
        self.ids["delivery_id"] = delivery.id
        self.ids["event_id"] = event.id


@pytest.fixture(scope="module")
async def world(portal: RunningPortal, kafka_settings: CommonSettings) -> World:
    built = World()
    await built.build(portal, kafka_settings)
    return built


async def test_every_api_route_is_in_the_openapi_document(portal: RunningPortal) -> None:
    document = await openapi(portal.client)
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters" and not path.startswith(NOT_API)
    }
    served = api_routes(portal)
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


async def test_workspace_routes_refuse_bad_tokens(portal: RunningPortal, world: World) -> None:
    client = portal.client
    routes = operations(await openapi(client), "sessionToken")
    assert len(routes) >= 12, routes
    expired, _ = SessionSigner.from_keys(None, portal.ring).mint(
        world.ids["workspace_id"],
        Role.ADMIN,
        ttl_seconds=60,
        allowed_origins=(),
        now_ms=now_ms() - 3_600_000,
    )
    foreign, _ = SessionSigner.from_keys(None, MasterKeyRing.parse(generate_master_key())).mint(
        world.ids["workspace_id"], Role.ADMIN, ttl_seconds=600, allowed_origins=(), now_ms=now_ms()
    )
    head, _, mac = world.admin_a.rpartition(".")
    forged = f"{head}.{mac[::-1]}"
    for method, template in routes:
        path = fill(template, world.ids)
        for label, token in (
            ("none", None),
            ("garbage", "sess_garbage"),
            ("forged", forged),
            ("expired", expired),
            ("foreign key", foreign),
            ("operator key", client.operator_key),
        ):
            answer = await client.call(method, path, bearer=token, body={})
            assert answer.status == 401, f"{method} {template} with {label} token: {answer.text}"
            assert answer.headers["Content-Type"].startswith("application/problem+json")
        outsider = await client.call(
            method,
            path,
            bearer=world.origin_bound_a,
            body={},
            headers={"Origin": "https://evil.example.net"},
        )
        assert outsider.status == 403, f"{method} {template} from another origin"
        if method != "GET" and (method, template) not in VIEWER_POSTS:
            viewer = await client.call(method, path, bearer=world.viewer_a, body={})
            assert viewer.status == 403, f"{method} {template} as a viewer: {viewer.text}"


async def test_another_workspaces_ids_are_not_found_on_every_route(
    portal: RunningPortal, world: World
) -> None:
    client = portal.client
    routes = operations(await openapi(client), "sessionToken")
    with_ids = [(m, t) for m, t in routes if PARAM.search(t)]
    assert {"destination_id", "delivery_id", "event_id"} <= {
        name for _, t in with_ids for name in PARAM.findall(t)
    }
    for method, template in with_ids:
        answer = await client.call(method, fill(template, world.ids), bearer=world.admin_b, body={})
        assert answer.status == 404, f"{method} {template} with B's token: {answer.text}"
    # Nothing of A's changed or leaked through B's own routes.
    for method, template in routes:
        if PARAM.search(template) or method != "GET":
            continue
        query = f"?destination_id={world.ids['destination_id']}" if "deliveries" in template else ""
        answer = await client.call(method, template + query, bearer=world.admin_b)
        assert answer.status == 200, f"GET {template} for B: {answer.text}"
        for value in world.ids.values():
            assert value not in answer.text, f"GET {template} for B shows A's {value}"
    mine = await client.workspace(
        world.admin_a, "GET", f"{DESTINATIONS}/{world.ids['destination_id']}"
    )
    assert mine.status == 200, "B's DELETE reached A's destination"


async def test_operator_routes_need_the_operator_key(portal: RunningPortal, world: World) -> None:
    client = portal.client
    routes = operations(await openapi(client), "operatorKey")
    assert len(routes) >= 6, routes
    for method, template in routes:
        path = fill(template, world.ids)
        for label, token in (
            ("none", None),
            ("wrong key", client.operator_key[::-1]),
            ("an admin session", world.admin_a),
        ):
            answer = await client.call(method, path, bearer=token, body={})
            assert answer.status == 401, f"{method} {template} with {label}: {answer.text}"


async def test_secrets_never_come_back(portal: RunningPortal, world: World) -> None:
    client = portal.client
    document = await openapi(client)
    seen_from = len(client.seen)
    # Every read a session or the operator can make, as admin.
    for method, template in operations(document, "sessionToken"):
        if method == "GET":
            await client.call(method, fill(template, world.ids), bearer=world.admin_a)
    for method, template in operations(document, "operatorKey"):
        if method == "GET":
            await client.call(method, fill(template, world.ids), bearer=client.operator_key)
    # Errors about a secret do not quote it.
    dst = f"{DESTINATIONS}/{world.ids['destination_id']}"
    leaky = [
        ("PATCH", dst, {"secret": world.secrets[2]}),
        ("POST", f"{dst}/rotate-secret", {"secret": "whsec_SECRET!!notbase64"}),
        ("POST", f"{dst}/rotate-secret", {"secret": "SECRETshort"}),
        (
            "POST",
            DESTINATIONS,
            {"name": "x", "url": "https://h.example/x", "secret": "whsecSECRET"},
        ),
        (
            "POST",
            DESTINATIONS,
            {"type": "slack", "name": "x", "webhook_url": "http" + SLACK_URL[5:]},
        ),
        (
            "POST",
            DESTINATIONS,
            {"type": "slack", "name": "x", "webhook_url": "https://SECRET.example"},
        ),
    ]
    for method, path, body in leaky:
        answer = await client.workspace(world.admin_a, method, path, body)
        assert 400 <= answer.status < 500, answer.text
        assert "SECRET" not in answer.text, f"{method} {path} quotes the secret: {answer.text}"
    metrics = await client.call("GET", "/metrics")
    assert metrics.status == 200
    answers = [*client.seen[seen_from:], metrics.text]
    assert len(answers) > 15
    for secret in world.secrets:
        for text in answers:
            assert secret not in text, f"a secret came back: …{secret[-4:]}"
