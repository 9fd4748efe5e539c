"""Emit events straight to Kafka, for high-volume producers inside your network.

    python examples/produce_to_kafka.py --bootstrap 127.0.0.1:9092 --workspace ws_…

Needs ``pip install 'signet-sdk[kafka]'`` (``make install`` has it).

Same validation as the HTTP ingest, records batched and acknowledged in the background,
keyed by workspace with the partitioner the router needs. No publishable key here:
whoever can write the topic is trusted, so keep this path inside your network.
"""

from __future__ import annotations

import argparse

from signet_sdk.producer import DEFAULT_TOPIC, DeliveryFailedError, EventProducer


def main() -> int:
    parser = argparse.ArgumentParser(description="Produce events to signet.events.")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap")
    parser.add_argument("--workspace", required=True, help="the workspace id (ws_…)")
    parser.add_argument("--topic", default=DEFAULT_TOPIC, help="SIGNET_TOPIC_PREFIX + .events")
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()

    try:
        with EventProducer(args.bootstrap, topic=args.topic) as producer:
            for n in range(args.count):
                producer.emit(
                    args.workspace,
                    event="order.completed",
                    resource="order",
                    resource_id=f"ord_{n}",
                    payload={"order_id": f"ord_{n}", "total_cents": 100 + n},
                    id=f"order-ord_{n}-completed",  # optional: the same id as over HTTP
                )
            # Leaving the block flushes: every record acknowledged, or an error naming them.
    except DeliveryFailedError as exc:
        print(f"not acknowledged: {exc}")
        return 1
    print(f"{args.count} events acknowledged by Kafka")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
