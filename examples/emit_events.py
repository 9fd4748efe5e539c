"""Emit events from your backend with the Python SDK (blocking client).

    python examples/emit_events.py --key pk_test_…            # against `make run`
    python examples/emit_events.py --key pk_live_… --url https://events.example.com

One event with your own idempotency key (sending it twice gives the same id and one
delivery), then a bulk of three. The client retries 429/503 and network errors with the
same key, so a retry can never deliver twice; what it cannot fix raises a clear error.
"""

from __future__ import annotations

import argparse

from signet_sdk.client import ClientError, EventsClient, InvalidEventError

ORDER = {
    "order_id": "ord_lannister_77",
    "customer_id": "cus_lannister",
    "account_id": "acc_casterly",
    "total_cents": 12900,
    "currency": "usd",
    "items": 3,
    "completed_at": "2026-04-17T18:22:00Z",
}


def main() -> int:
    parser = argparse.ArgumentParser(description="Emit order events to Signet.")
    parser.add_argument("--key", required=True, help="the workspace's publishable key")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="Signet's ingest")
    args = parser.parse_args()

    with EventsClient(args.key, base_url=args.url) as signet:
        try:
            event_id = signet.emit(
                event="order.completed",
                resource="order",
                resource_id="ord_lannister_77",
                payload=ORDER,
                # Your own key makes the emit idempotent across your retries and restarts.
                idempotency_key="order-ord_lannister_77-completed",
            )
        except InvalidEventError as exc:
            for error in exc.errors:  # every bad field, by name
                print(f"invalid {error['field']}: {error['message']}")
            return 1
        except ClientError as exc:  # a bad key, or Signet unreachable after the retries
            print(f"not emitted: {exc}")
            return 1
        print(f"emitted {event_id}")

        items = signet.emit_bulk(
            [
                {
                    "event": "order.shipped",
                    "resource": "order",
                    "resource_id": f"ord_{n}",
                    "payload": {"order_id": f"ord_{n}", "carrier": "raven"},
                }
                for n in (101, 102, 103)
            ]
        )
        for item in items:
            print(f"bulk #{item.index}: {item.status} {item.id or item.error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
