"""Which Kafka client errors leave the client that reported them unusable.

Light on purpose (confluent-kafka only): the services' producer and the SDK's direct
producer both ask it.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

# Answers after which a producer instance never writes again: librdkafka's fatal errors,
# and the epoch errors a broker gives an idempotent producer it has fenced. After a stall
# with produce requests in flight, librdkafka bumps the epoch and Tansu answers every
# later write with PRODUCER_FENCED, which librdkafka does not flag as fatal.
_DEAD_PRODUCER_CODES = frozenset(
    {KafkaError._FATAL, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
)


def is_dead_producer(err: KafkaError) -> bool:
    """True when ``err`` means the producer instance that reported it is unusable."""
    return bool(err.fatal()) or err.code() in _DEAD_PRODUCER_CODES


def kafka_error_of(exc: KafkaException) -> KafkaError | None:
    """The ``KafkaError`` a ``KafkaException`` carries, if any."""
    err = exc.args[0] if exc.args else None
    return err if isinstance(err, KafkaError) else None
