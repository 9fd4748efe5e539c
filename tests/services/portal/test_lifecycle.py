"""The portal as a service: health, metrics, OpenAPI, timeouts, start-up refusal, SIGTERM.

No router runs in this module: what is tested here does not need one, and the command
timeout test needs its absence.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate

from services.portal.app import PortalService
from services.portal.destination_fields import (
    MAX_AGE_RANGE,
    MAX_ATTEMPTS_RANGE,
    RATE_LIMIT_RANGE,
    TIMEOUT_RANGE,
)
from services.portal.operator_bodies import LIST_LIMIT_MAX
from services.portal.rotation import DEFAULT_OVERLAP_SECONDS, MAX_OVERLAP_SECONDS
from signet.dev.broker import free_port
from signet.errors import ConfigurationError
from signet.security.secrets import generate_master_key
from signet.settings import CommonSettings
from tests.processes import ServiceProcess, service_env
from tests.services.portal.conftest import PortalClient, portal_settings

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
async def lone_portal(kafka_settings: CommonSettings) -> AsyncIterator[PortalClient]:
    """A portal with no router behind it, and a short command timeout."""
    settings = portal_settings(kafka_settings, command_timeout_seconds=1.5)
    async with PortalService(settings) as service, aiohttp.ClientSession() as http:
        await service.wait_caught_up(30)
        yield PortalClient(
            f"http://127.0.0.1:{service.port}", settings.operator_key.get_secret_value(), http
        )


async def test_health_readiness_and_metrics(lone_portal: PortalClient) -> None:
    assert (await lone_portal.call("GET", "/healthz")).json == {"status": "ok"}
    assert (await lone_portal.call("GET", "/readyz")).json == {"status": "ready"}
    await lone_portal.operator("GET", "/v1/workspaces")
    metrics = (await lone_portal.call("GET", "/metrics")).text
    assert 'signet_portal_requests_total{method="GET",route="/v1/workspaces",status="200"}' in (
        metrics
    )


async def test_an_unapplied_command_is_a_retriable_504(lone_portal: PortalClient) -> None:
    answer = await lone_portal.operator(
        "POST", "/v1/workspaces", {"name": "Nobody home", "environment": "development"}
    )
    assert answer.status == 504, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.json["type"].endswith("/command-timeout")
    assert "Retry-After" in answer.headers
    metrics = (await lone_portal.call("GET", "/metrics")).text
    assert 'signet_portal_commands_total{kind="create_workspace",result="timeout"} 1.0' in metrics


async def test_unknown_routes_are_problems(lone_portal: PortalClient) -> None:
    answer = await lone_portal.call("GET", "/v1/nope")
    assert answer.status == 404
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    wrong_method = await lone_portal.operator("PUT", "/v1/workspaces")
    assert wrong_method.status == 405


async def test_the_openapi_document_covers_every_route(kafka_settings: CommonSettings) -> None:
    service = PortalService(portal_settings(kafka_settings))
    app = service.build_app()
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    async with (
        aiohttp.ClientSession() as http,
        PortalService(portal_settings(kafka_settings)) as running,
        http.get(f"http://127.0.0.1:{running.port}/openapi.json") as response,
    ):
        document = await response.json()
    assert document["openapi"].startswith("3.1")
    documented = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "delete", "put"}
    }
    assert served == documented
    validate(document)  # valid OpenAPI 3.1, every $ref resolving
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', str(document).replace("'", '"')))
    assert refs <= set(document["components"]["schemas"])


def test_the_document_reads_the_rules_of_the_code(kafka_settings: CommonSettings) -> None:
    """Ranges, defaults and the error shape in the document are the validators' own."""
    settings = portal_settings(kafka_settings, public_url="https://portal.example.com/")
    _, api = PortalService(settings).build()
    document = api.document()
    assert document["servers"] == [{"url": "https://portal.example.com"}]
    schemas = document["components"]["schemas"]

    def bounds(schema: dict[str, Any]) -> tuple[Any, Any]:
        return schema["minimum"], schema["maximum"]

    webhook = schemas["WebhookDestinationInput"]["properties"]
    assert bounds(webhook["timeout_seconds"]["anyOf"][0]) == TIMEOUT_RANGE
    assert bounds(webhook["rate_limit_per_second"]["anyOf"][0]) == RATE_LIMIT_RANGE
    assert webhook["signature_scheme"]["default"] == "standard-webhooks"
    policy = schemas["RetryPolicy"]["properties"]
    assert bounds(policy["max_attempts"]["anyOf"][0]) == MAX_ATTEMPTS_RANGE
    assert bounds(policy["max_age_seconds"]["anyOf"][0]) == MAX_AGE_RANGE
    rotation = schemas["RotationRequest"]["properties"]["overlap_seconds"]
    assert rotation["maximum"] == MAX_OVERLAP_SECONDS
    assert rotation["default"] == DEFAULT_OVERLAP_SECONDS
    # A PATCH's name may be left out, never null; its timeout may be null (the default).
    patch = schemas["DestinationPatch"]
    assert patch["properties"]["name"]["type"] == "string" and "required" not in patch
    assert {"type": "null"} in patch["properties"]["timeout_seconds"]["anyOf"]
    assert set(patch["properties"]).isdisjoint({"type", "signature_scheme", "secret"})
    # One field-error shape, as ingest answers it.
    error = schemas["FieldErrorBody"]
    assert error["required"] == ["field", "code", "message"]
    listing = document["paths"]["/v1/workspaces"]["get"]["parameters"]
    assert {p["name"]: p["schema"].get("maximum") for p in listing} == {
        "limit": LIST_LIMIT_MAX,
        "starting_after": None,
    }
    # The body a receiver is sent, typed for receivers and SDKs.
    [delivered] = document["webhooks"].values()
    sent = delivered["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert sent == {"$ref": "#/components/schemas/WebhookBody"}
    headers = {p["name"]: p["required"] for p in delivered["post"]["parameters"]}
    assert headers["webhook-id"] is True and "webhook-signature" in headers
    assert {"2XX", "410", "default"} <= set(delivered["post"]["responses"])
    # Every /v1 route says who may call it and what a refusal is.
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not path.startswith("/v1/") or path == "/v1/log-signing-key":
                continue
            assert operation["security"], f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path}"


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"operator_key": ""}, "SIGNET_OPERATOR_KEY"),
        ({"master_keys": ""}, "SIGNET_MASTER_KEYS"),
        ({"master_keys": "k1:notbase64!"}, "base64"),
        ({"session_key": "short"}, "SIGNET_SESSION_KEY"),
        ({"public_url": "portal.example.com"}, "SIGNET_PUBLIC_URL"),
    ],
)
def test_bad_settings_refuse_to_build(
    kafka_settings: CommonSettings, overrides: dict[str, str], words: str
) -> None:
    with pytest.raises(ConfigurationError, match=words):
        PortalService(portal_settings(kafka_settings, **overrides))


async def test_the_process_refuses_to_start_without_keys(kafka_settings: CommonSettings) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SIGNET_OPERATOR_KEY", "SIGNET_MASTER_KEYS")
    }
    env.update(service_env(kafka_settings, port=free_port(), master_keys=generate_master_key()))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.portal",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert b"refusing to start" in stderr and b"SIGNET_OPERATOR_KEY" in stderr


async def test_the_process_serves_and_stops_on_sigterm(kafka_settings: CommonSettings) -> None:
    port = free_port()
    env = service_env(
        kafka_settings,
        host="127.0.0.1",
        port=port,
        operator_key="an-operator-key-for-this-test",
        master_keys=generate_master_key(),
    )
    process = ServiceProcess("portal", env, ready_url=f"http://127.0.0.1:{port}/readyz")
    await process.start()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"http://127.0.0.1:{port}/v1/workspaces",
                headers={"Authorization": "Bearer an-operator-key-for-this-test"},
            ) as response,
        ):
            assert response.status == 200
            assert (await response.json())["data"] == []
    finally:
        returncode = await process.stop()
    assert returncode == 0, process.output()
    output = process.output()
    assert "portal: stopped" in output
    assert "an-operator-key-for-this-test" not in output
