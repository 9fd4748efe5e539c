"""Shared fixtures: a real Tansu broker for the session, fresh topics per test module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from signet.broker import EmbeddedBroker
from signet.settings import CommonSettings
from signet.topics import Topics, ensure_topics

pytest_plugins = ["tests.receiver"]


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    embedded = EmbeddedBroker()
    embedded.start()
    yield embedded
    embedded.stop()


@pytest.fixture(scope="module")
def kafka_settings(broker: EmbeddedBroker) -> CommonSettings:
    """Settings pointing at the session broker, with topics under a unique prefix."""
    settings = CommonSettings(
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        partitions=3,
        deliveries_partitions=3,
    )
    ensure_topics(settings)
    return settings


@pytest.fixture(scope="module")
def topics(kafka_settings: CommonSettings) -> Topics:
    return Topics.from_settings(kafka_settings)
