"""Emit events from an asyncio backend (aiohttp, FastAPI, …) with the async client.

    python examples/emit_events_async.py --key pk_test_… --count 100

Share one client for the life of your app: it keeps its connections open. Emits run
concurrently; each has its own generated idempotency key, kept across its retries.
"""

from __future__ import annotations

import argparse
import asyncio

from signet_sdk.client import AsyncEventsClient


async def emit_many(key: str, url: str, count: int) -> None:
    async with AsyncEventsClient(key, base_url=url) as signet:
        ids = await asyncio.gather(
            *(
                signet.emit(
                    event="invoice.paid",
                    resource="invoice",
                    resource_id=f"inv_{n}",
                    payload={"invoice_id": f"inv_{n}", "amount_cents": 100 * n},
                )
                for n in range(count)
            )
        )
    print(f"emitted {len(ids)} events, first {ids[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Emit events concurrently to Signet.")
    parser.add_argument("--key", required=True, help="the workspace's publishable key")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="Signet's ingest")
    parser.add_argument("--count", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(emit_many(args.key, args.url, args.count))


if __name__ == "__main__":
    main()
