"""``signet up`` with SIGNET_KAFKA_BOOTSTRAP: no embedded broker, topics on that Kafka."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from signet.dev.broker import EmbeddedBroker
from signet.kafka.topics import kafka_client_config, topic_specs
from signet.settings import CommonSettings
from tests.signet.dev.devstack.up_process import READY_BANNER, UpProcess, up_env
from tests.signet.dev.devstack.waiting import alive

pytestmark = pytest.mark.timeout(240)


async def test_up_against_an_existing_kafka_starts_no_broker(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    prefix = f"up{uuid.uuid4().hex[:6]}."
    marker = tmp_path / ".signet" / "data" / "kept.txt"
    marker.parent.mkdir(parents=True)
    marker.write_text("local data survives: this Kafka keeps its topics")
    env = up_env(
        SIGNET_KAFKA_BOOTSTRAP=broker.bootstrap,
        SIGNET_TOPIC_PREFIX=prefix,
        SIGNET_RECEIVER="false",
    )
    up = UpProcess(tmp_path, env)
    await up.start()
    try:
        await up.wait_for_line(lambda line: READY_BANNER in line, "all ready", 180)
        runtime = up.runtime()
        assert up.process is not None
        up.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(up.process.wait(), 90)
    finally:
        up.kill_everything()
    assert code == 0, up.output()
    assert runtime["broker"] == {"bootstrap": None, "pid": None}
    assert set(runtime["services"]) == {
        "ingest",
        "router",
        "dispatcher",
        "portal",
        "alerter",
        "embed-host",
    }
    printed = "\n".join(up.lines)
    assert "broker listening" not in printed
    assert f"{broker.bootstrap}  (external Kafka)" in printed
    for embedded_only in ("restore", "--fresh", "copy of the setup", "keeping the setup"):
        assert embedded_only not in printed, embedded_only
    assert not (tmp_path / ".signet" / "config-snapshot.jsonl").exists()
    assert "signet listen --port" in printed  # no receiver started: the script says how
    assert marker.exists()
    assert [pid for pid in up.seen_pids if alive(pid)] == []
    admin = AdminClient(kafka_client_config(CommonSettings(kafka_bootstrap=broker.bootstrap)))
    names = set(admin.list_topics(timeout=10).topics)
    assert {s.name for s in topic_specs(CommonSettings(topic_prefix=prefix))} <= names
