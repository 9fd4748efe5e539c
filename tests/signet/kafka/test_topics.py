from __future__ import annotations

import uuid

from confluent_kafka.admin import AdminClient

from signet.dev.broker import EmbeddedBroker
from signet.kafka.topics import Topics, ensure_topics, kafka_client_config, tier_label, topic_specs
from signet.settings import CommonSettings


def test_tier_labels() -> None:
    assert [tier_label(s) for s in (5, 30, 120, 600, 3600, 43200)] == [
        "5s",
        "30s",
        "2m",
        "10m",
        "1h",
        "12h",
    ]


def test_ensure_creates_every_topic_once(broker: EmbeddedBroker) -> None:
    settings = CommonSettings(
        kafka_bootstrap=broker.bootstrap, topic_prefix=f"e{uuid.uuid4().hex[:6]}.", partitions=4
    )
    first = ensure_topics(settings)
    expected = {spec.name for spec in topic_specs(settings)}
    assert set(first.created) == expected
    assert first.existing == []

    second = ensure_topics(settings)
    assert second.created == []
    assert set(second.existing) == expected
    assert second.partition_mismatch == {}

    metadata = AdminClient(kafka_client_config(settings)).list_topics(timeout=10)
    t = Topics.from_settings(settings)
    for name in (t.events, t.workspace_commands, t.workspace_config):
        assert len(metadata.topics[name].partitions) == 4  # co-partitioned


def test_ensure_reports_partition_mismatch(broker: EmbeddedBroker) -> None:
    prefix = f"m{uuid.uuid4().hex[:6]}."
    ensure_topics(CommonSettings(kafka_bootstrap=broker.bootstrap, topic_prefix=prefix))
    report = ensure_topics(
        CommonSettings(kafka_bootstrap=broker.bootstrap, topic_prefix=prefix, partitions=2)
    )
    assert report.partition_mismatch[f"{prefix}events"] == (2, 6)
