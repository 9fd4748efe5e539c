"""The ingest app in-process on a free port, against the session's real broker.

Workspaces are set up the way the router would: a ``WorkspaceConfig`` snapshot with
SHA-256-hashed publishable keys, produced onto ``workspace-config``; the app's config view
picks it up, and ``Workspaces.create`` waits until it has.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import orjson
import pytest

from services.ingest.app import IngestApp
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import PublishableKey, WorkspaceConfig
from signet.settings import CommonSettings, IngestSettings
from tests.eventually import eventually

SEED_PAYLOAD = {
    "order_id": "ord_lannister_77",
    "customer_id": "cus_lannister",
    "account_id": "acc_casterly",
    "total_cents": 12900,
    "currency": "usd",
    "items": 3,
    "completed_at": "2026-04-17T18:22:00Z",
}


def seed_event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": "order.completed",
        "resource": "order",
        "resource_id": "ord_lannister_77",
        "payload": SEED_PAYLOAD,
    }
    body.update(overrides)
    return body


def new_key(environment: str = "production") -> str:
    prefix = "pk_live_" if environment == "production" else "pk_test_"
    return prefix + secrets.token_urlsafe(24)


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(slots=True)
class SeededWorkspace:
    config: WorkspaceConfig
    keys: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.config.workspace_id

    @property
    def key(self) -> str:
        return self.keys[0]


class Workspaces:
    """Publishes workspace snapshots as the router would, and waits for the app to see them."""

    def __init__(self, producer: AsyncProducer, topics: Topics, app: IngestApp) -> None:
        self._producer = producer
        self._topic = topics.workspace_config
        self._app = app

    async def create(self, *, environment: str = "production", keys: int = 1) -> SeededWorkspace:
        workspace_id = f"ws_{uuid.uuid4().hex[:20]}"
        plain = [new_key(environment) for _ in range(keys)]
        config = WorkspaceConfig(
            workspace_id=workspace_id,
            version=1,
            name="Casterly",
            environment=environment,
            created_at=1,
            updated_at=1,
            publishable_keys=[
                PublishableKey(f"pk_{i}", sha256_hex(k), f"{k[:8]}…{k[-4:]}", 1)
                for i, k in enumerate(plain)
            ],
        )
        await self.publish(config)
        return SeededWorkspace(config, plain)

    async def revoke(self, workspace: SeededWorkspace, index: int, *, at: int) -> None:
        keys = list(workspace.config.publishable_keys)
        keys[index] = replace(keys[index], revoked_at=at)
        workspace.config = replace(
            workspace.config, version=workspace.config.version + 1, publishable_keys=keys
        )
        await self.publish(workspace.config)

    async def publish(self, config: WorkspaceConfig) -> None:
        await self._producer.send(self._topic, codec.encode(config), key=config.workspace_id)
        view = self._app.config_view

        def seen() -> bool:
            current = view.workspace(config.workspace_id)
            return current is not None and current.version >= config.version

        assert await view.wait_for(seen, 20), f"config view never saw {config.workspace_id}"


@dataclass(slots=True, frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0]


class Client:
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self.base_url = base_url

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Content-Type": "application/json"}
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        sent.update(headers or {})
        data = raw if raw is not None else (orjson.dumps(body) if body is not None else None)
        async with self._session.request(
            method, self.base_url + path, data=data, headers=sent
        ) as response:
            return Reply(response.status, dict(response.headers), await response.read())

    async def emit(self, body: Any, key: str | None, **kwargs: Any) -> Reply:
        return await self.request("POST", "/v1/events", body=body, key=key, **kwargs)

    async def bulk(self, body: Any, key: str | None, **kwargs: Any) -> Reply:
        return await self.request("POST", "/v1/events/bulk", body=body, key=key, **kwargs)


@pytest.fixture(scope="module")
def ingest_settings(kafka_settings: CommonSettings) -> IngestSettings:
    return IngestSettings(
        **kafka_settings.model_dump(),
        host="127.0.0.1",
        port=0,
        produce_timeout_seconds=10.0,
    )


@pytest.fixture(scope="module")
async def ingest(ingest_settings: IngestSettings) -> AsyncIterator[IngestApp]:
    async with IngestApp(ingest_settings) as app:
        await eventually(app.ready, "ingest ready", 30)
        yield app


@pytest.fixture(scope="module")
async def client(ingest: IngestApp) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, ingest.url)


@pytest.fixture(scope="module")
async def workspaces(
    kafka_settings: CommonSettings, topics: Topics, ingest: IngestApp
) -> AsyncIterator[Workspaces]:
    async with AsyncProducer(kafka_settings) as producer:
        yield Workspaces(producer, topics, ingest)
