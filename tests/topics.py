"""Settings for a test on a broker, with every topic created afresh under a unique prefix."""

from __future__ import annotations

import uuid

from signet.kafka.topics import ensure_topics
from signet.settings import CommonSettings


def fresh_topics(bootstrap: str, *, partitions: int = 3) -> CommonSettings:
    """Settings pointing at ``bootstrap`` whose topics (``partitions`` each) no other test
    shares: created here, under a prefix of their own."""
    settings = CommonSettings(
        kafka_bootstrap=bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        partitions=partitions,
        deliveries_partitions=partitions,
    )
    ensure_topics(settings)
    return settings
