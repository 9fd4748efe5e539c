"""docs/operations.md section 6 ("When Kafka is unavailable") says what the code does:
its settings and defaults, the metrics it names, the restart exit code."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from signet.kafka.metrics import KafkaMetrics
from signet.runner import RESTART_EXIT_CODE
from signet.settings import (
    AlerterSettings,
    CommonSettings,
    DispatcherSettings,
    IngestSettings,
)

DOC = Path(__file__).parents[2] / "docs" / "operations.md"


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_the_kafka_settings_table_gives_the_code_s_defaults() -> None:
    rows = re.findall(r"^\| `SIGNET_([A-Z_]+)` \| ([0-9.]+) \|", section("6."), re.M)
    assert len(rows) == 4, rows
    defaults = CommonSettings()
    for name, documented in rows:
        assert float(getattr(defaults, name.lower())) == float(documented), name


def test_the_numbers_the_text_quotes_are_the_code_s() -> None:
    text = section("6.")
    assert f"exits with code {RESTART_EXIT_CODE}" in text
    assert (
        f"`SIGNET_PRODUCE_TIMEOUT_SECONDS` ({IngestSettings().produce_timeout_seconds:g} s)" in text
    )
    session = DispatcherSettings().consumer_session_timeout_seconds
    assert session == AlerterSettings().consumer_session_timeout_seconds
    assert f"`SIGNET_CONSUMER_SESSION_TIMEOUT_SECONDS`,\n{session:g} s for the dispatcher" in text


def test_every_kafka_metric_it_names_exists() -> None:
    registry = CollectorRegistry()
    KafkaMetrics.create(registry)
    exported = {
        sample_name
        for family in registry.collect()
        for sample_name in (family.name, f"{family.name}_total")
    }
    named = set(re.findall(r"`(signet_kafka_[a-z_]+)", DOC.read_text(encoding="utf-8")))
    assert named, "no Kafka metric named"
    assert named <= exported, named - exported
