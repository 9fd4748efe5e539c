"""Secrets stay secret across the whole stack: after destinations are created, rotated,
tested, delivered to and replayed, no secret, Slack URL, publishable key, session token or
operator key appears in any service's log, in ``/metrics``, or in the raw bytes of any
Kafka record under the test's topic prefix."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from signet.kafka.topics import kafka_client_config
from signet.settings import CommonSettings
from tests.e2e.conftest import Stack
from tests.receiver import Receiver

pytestmark = pytest.mark.timeout(300)

DESTINATIONS = "/v1/workspace/destinations"
SLACK_URL = "https://hooks.slack.com/services/T0HYGIENE/B0HYGIENE/hygieneSlackToken0123"
MARKER = "visible-payload-marker-7f3a"  # in the event payload: proves the scan reads records


def variants(secret: str) -> list[bytes]:
    """A secret as text and, for whsec_ secrets, as the raw key bytes it stands for."""
    forms = [secret.encode()]
    if secret.startswith("whsec_"):
        forms.append(base64.b64decode(secret.removeprefix("whsec_")))
    return forms


def every_record(settings: CommonSettings) -> list[bytes]:
    """Key and value bytes of every record of every topic under the prefix, to the end.

    The end is where the reader finds no more (end of partition), not the end the broker
    reports: Tansu reports the last batch's base offset + 1, short of a batch's last
    records, which are where a leak would be missed."""
    consumer = Consumer(
        {
            **kafka_client_config(settings),
            "group.id": "hygiene-scan",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        topics = [
            name
            for name in consumer.list_topics(timeout=10).topics
            if name.startswith(settings.topic_prefix)
        ]
        partitions = {
            (name, partition)
            for name in topics
            for partition in consumer.list_topics(name, timeout=10).topics[name].partitions
        }
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in partitions])
        found: list[bytes] = []
        remaining = set(partitions)
        while remaining:
            messages = consumer.consume(500, 10)
            assert messages, f"the scan stalled before the end of {sorted(remaining)}"
            for msg in messages:
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        remaining.discard((msg.topic() or "", msg.partition() or 0))
                    continue
                found += [msg.key() or b"", msg.value() or b""]
        return found
    finally:
        consumer.close()


async def test_no_secret_in_logs_metrics_or_kafka(
    stack: Stack,
    kafka_settings: CommonSettings,
    make_receiver: Callable[[], Awaitable[Receiver]],
) -> None:
    receiver = await make_receiver()
    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": "Hygiene", "environment": "production"}
    )
    assert status == 201, workspace
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    assert status == 201, session
    token = session["token"]
    own = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    plain = "hygiene-plain-text-secret-0042"
    secrets = [own, plain, SLACK_URL, workspace["publishable_key"], token, stack.operator_key]
    ids = []
    for body in (
        {"name": "Own", "url": receiver.url, "secret": own},
        {"name": "Plain", "url": receiver.url, "signature_scheme": "hmac-sha256", "secret": plain},
        {"name": "Hub", "url": receiver.url, "signature_scheme": "github"},
        {"name": "Generated", "url": receiver.url},
        {"type": "slack", "name": "Alerts", "webhook_url": SLACK_URL},
    ):
        status, created = await stack.workspace(token, "POST", DESTINATIONS, body)
        assert status == 201, created
        ids.append(created["id"])
        if "secret" in created:
            secrets.append(created["secret"])
    status, rotated = await stack.workspace(
        token, "POST", f"{DESTINATIONS}/{ids[3]}/rotate-secret", {"overlap_seconds": 600}
    )
    assert status == 200, rotated
    secrets.append(rotated["secret"])
    assert len(secrets) == 9

    status, accepted = await stack.emit(
        workspace["publishable_key"],
        {
            "event": "order.completed",
            "resource": "order",
            "resource_id": "o1",
            "payload": {"m": MARKER},
        },
    )
    assert status == 202, accepted
    await receiver.wait_for(4, timeout=30)
    status, tested = await stack.workspace(token, "POST", f"{DESTINATIONS}/{ids[1]}/test")
    assert status == 200 and tested["status"] == "delivered", tested
    status, replayed = await stack.workspace(
        token, "POST", f"/v1/workspace/deliveries/{tested['delivery_id']}/replay"
    )
    assert status == 202, replayed
    await receiver.wait_for(6, timeout=30)

    # Logs of every service, as they wrote them.
    logs = {name: p.log_path.read_bytes() for name, p in stack.processes.items()}
    assert all(logs.values()), "a service wrote no log at all"
    # /metrics of the portal and the dispatcher.
    async with aiohttp.ClientSession() as http:
        async with http.get(stack.portal_url + "/metrics") as response:
            logs["portal /metrics"] = await response.read()
        ready = stack.processes["dispatcher"]._ready_url  # the dispatcher's health port
        async with http.get(ready.replace("/readyz", "/metrics")) as response:
            logs["dispatcher /metrics"] = await response.read()
    assert b"signet_portal_requests_total" in logs["portal /metrics"]
    records = await asyncio.to_thread(every_record, kafka_settings)
    assert any(MARKER.encode() in r for r in records), "the Kafka scan read no event"

    for secret in secrets:
        for form in variants(secret):
            for where, text in logs.items():
                assert form not in text, f"…{secret[-4:]} in the {where} log"
            assert not any(form in r for r in records), f"…{secret[-4:]} in a Kafka record"
