"""Ordered delivery's price: one FIFO destination's throughput against a healthy receiver.

    python -m bench.fifo                  # 500 deliveries to one destination, each way
    python -m bench.fifo --count 1000

Everything on loopback, as ``bench.isolation`` (``bench/dispatcher_rig.py``): a Tansu
broker, the real dispatcher (one child process), one partition, the receiver in this
process (it answers 200 at once).
A backlog of ``count`` deliveries to one destination is written straight to Kafka, first
with ``"ordering": "none"`` (concurrent, up to the in-flight cap), then to a second
destination with ``"ordering": "fifo"`` (one at a time, the line's record written before
and after each). Reported: deliveries per second (first write to last receipt) and
whether the FIFO one arrived in the order written (docs/delivery.md#ordered-delivery).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import time

from aiohttp import web

from bench.dispatcher_rig import delivery, destination, dispatcher_rig
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Destination


class Receiver:
    def __init__(self) -> None:
        self.arrived: list[tuple[str, float]] = []  # (webhook-id, receipt time), in order
        self.changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.arrived.append((request.headers["webhook-id"], time.time()))
        self.changed.set()
        return web.Response(text="ok")

    async def wait_for(self, ids: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ids <= {event for event, _ in self.arrived}:
            if time.monotonic() > deadline:
                raise SystemExit("not every delivery arrived")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 1)


async def backlog(
    producer: AsyncProducer, topics: Topics, receiver: Receiver, target: Destination, count: int
) -> tuple[float, bool]:
    """Deliveries per second for ``count`` written at once; did they arrive in order?"""
    records = [delivery(target.id) for _ in range(count)]
    started = time.time()
    await asyncio.gather(
        *(
            producer.send_nowait(topics.deliveries, codec.encode(r), key=r.destination_id)
            for r in records
        )
    )
    wanted = [r.event_id for r in records]
    await receiver.wait_for(set(wanted), timeout=600)
    mine = [(event, at) for event, at in receiver.arrived if event in set(wanted)]
    first_seen = list(dict.fromkeys(event for event, _ in mine))
    return count / (max(at for _, at in mine) - started), first_seen == wanted


async def run(count: int) -> None:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook/{name}", receiver.handle)
    async with dispatcher_rig(app, "fifo") as rig:
        unordered = destination(rig.ring, f"{rig.base_url}/hook/none")
        ordered = dataclasses.replace(
            destination(rig.ring, f"{rig.base_url}/hook/fifo"), ordering="fifo"
        )
        await rig.start_dispatcher([unordered, ordered])
        print(f"dispatcher ready (log: {rig.log})", flush=True)
        producer, topics = rig.producer, rig.topics
        await backlog(producer, topics, receiver, unordered, 50)  # warm-up
        none_rate, _ = await backlog(producer, topics, receiver, unordered, count)
        fifo_rate, in_order = await backlog(producer, topics, receiver, ordered, count)
    print()
    print(f"fifo bench: one destination, a healthy receiver, a backlog of {count}")
    print(f"  ordering none: {none_rate:8.1f} deliveries/s")
    print(f"  ordering fifo: {fifo_rate:8.1f} deliveries/s, in order: {in_order}")
    print(f"  fifo / none: {fifo_rate / none_rate:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500, help="deliveries in each backlog")
    args = parser.parse_args()
    asyncio.run(run(args.count))


if __name__ == "__main__":
    main()
