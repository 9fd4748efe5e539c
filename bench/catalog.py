"""Path (b) with and without a JSON Schema on ``order.completed``, in turns, in ONE run.

    python -m bench.catalog                  # 3 rounds of 12 000 events each way
    python -m bench.catalog --quick          # small counts, to check it works

The goal (issue 16): HTTP bulk ingest to one destination keeps at least 90 % of its
throughput when the event type carries a schema that every payload is validated against.
One stack, one workspace with one destination, one receiver verifying every signature;
between peaks only the catalog changes: ``order.completed`` stored without a schema, then
with one, in the order without, with, with, without, … so a drift of the machine over the
run weighs on both sides alike. Before each peak a probe event that fails the schema
shows the ingest has read the change (refused with the schema on, delivered with it off).
The result is the median of each side and their ratio, and beside it the CPU every
process spent per delivery (``bench/rounds.py``, shared with ``bench.tracing``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from rich.console import Console
from rich.table import Table
from signet_sdk.client import AsyncEventsClient, InvalidEventError

from bench.loads import IngestLoad, seed_event
from bench.measure import PeakResult
from bench.report import busy_note, machine, write_json
from bench.rounds import Comparison, alternating, complete, peak_of, warm_up
from bench.stack import BenchStack, OtherWork, ReceiverProcess, running_stack
from signet.dev.devstack.info import SEED_EVENT

TYPE_PATH = f"/v1/event-types/{SEED_EVENT}"
# What the seed payload is (bench/loads.py adds ``sent_at_ns``): every property typed, the
# identifiers patterned, the amount bounded, the time a date-time, the currency an enum.
ORDER_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["order_id", "customer_id", "total_cents", "currency", "completed_at"],
    "properties": {
        "order_id": {"type": "string", "pattern": "^ord_[a-z0-9_]+$"},
        "customer_id": {"type": "string", "pattern": "^cus_[a-z0-9_]+$"},
        "account_id": {"type": "string"},
        "total_cents": {"$ref": "#/$defs/cents"},
        "currency": {"enum": ["usd", "eur", "gbp"]},
        "items": {"type": "integer", "minimum": 1},
        "completed_at": {"type": "string", "format": "date-time"},
        "sent_at_ns": {"type": "integer"},
    },
    "additionalProperties": False,
    "$defs": {"cents": {"type": "integer", "minimum": 0, "maximum": 100_000_000}},
}
WITHOUT, WITH = "without schema", "with schema"


async def set_schema(stack: BenchStack, schema: dict[str, Any] | None) -> None:
    body = {"description": "An order was paid for", "schema": schema, "example": None}
    await stack._call("PUT", TYPE_PATH, stack.info.operator_key, body)


async def wait_until_ingest_sees(
    probe_client: AsyncEventsClient,
    receiver: ReceiverProcess,
    schema_on: bool,
    timeout: float = 30.0,
) -> None:
    """Until a payload that fails the schema is refused (on) or delivered (off)."""
    probe = {**seed_event(time.time_ns()), "payload": {"order_id": 7}}
    deadline = time.monotonic() + timeout
    while True:
        await receiver.reset()
        try:
            await probe_client.emit(**_emit_args(probe))
            refused = False
        except InvalidEventError:
            refused = True
        if refused == schema_on:
            if not refused:
                await receiver.wait_for(1, timeout)  # the probe's delivery, before a peak
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the ingest did not see the schema turned {schema_on}")
        await asyncio.sleep(0.2)


def _emit_args(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": event["event"],
        "resource": event["resource"],
        "resource_id": event["resource_id"],
        "payload": event["payload"],
    }


async def run(
    rounds: int, events: int, console: Console
) -> tuple[dict[str, list[PeakResult]], float]:
    """The peaks of each side, and how much of the machine other processes took (%)."""
    peaks: dict[str, list[PeakResult]] = {WITHOUT: [], WITH: []}
    others = 0.0
    receiver = ReceiverProcess()
    await receiver.start()
    try:
        async with running_stack() as stack:
            workspace = await stack.workspace(receiver, "catalog", ["one"])
            pids = {**stack.pids, "receiver": receiver.pid}
            other_work = OtherWork([*pids.values(), os.getpid()])
            load = IngestLoad(
                stack.info.ingest_url, workspace.publishable_key, batch=250, concurrency=4
            )
            probe = AsyncEventsClient(workspace.publishable_key, base_url=stack.info.ingest_url)
            try:
                await load.ready()
                await warm_up(receiver, load, events, pids)
                for index, side in alternating(rounds, WITHOUT, WITH):
                    schema_on = side == WITH
                    await set_schema(stack, ORDER_SCHEMA if schema_on else None)
                    await wait_until_ingest_sees(probe, receiver, schema_on)
                    peak = complete(side, await peak_of(receiver, load, events, pids), events)
                    peaks[side].append(peak)
                    console.print(f"round {index + 1}, {side}: {peak.per_second:,.0f}/s")
                others = other_work.percent()
            finally:
                await load.close()
                await probe.close()
    finally:
        await receiver.stop()
    return peaks, others


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds (each runs both)")
    parser.add_argument("--events", type=int, default=12_000, help="events per peak")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 000 events")
    args = parser.parse_args()
    rounds, events = (1, 2_000) if args.quick else (args.rounds, args.events)
    console = Console()
    peaks, others = asyncio.run(run(rounds, events, console))
    where = {**machine(), "others_cpu_percent_during_run": others}
    comparison = Comparison(WITHOUT, WITH, peaks)
    cpu = comparison.cpu
    table = Table(title=f"path (b), 1 destination: deliveries/s, median of {rounds}")
    for column in ("", "median /s", "each peak /s", "CPU µs/delivery: ingest", "all"):
        table.add_column(column, justify="right")
    for side in (WITHOUT, WITH):
        table.add_row(
            side,
            *comparison.rates(side),
            f"{cpu[side].get('ingest', 0.0):.0f}",
            f"{cpu[side]['all']:.0f}",
        )
    console.print(table)
    comparison.print_ratios(console, "without", "with")
    console.print(busy_note(where))
    path = write_json(
        "catalog",
        {
            "benchmark": "catalog",
            "machine": where,
            "rounds": rounds,
            "events": events,
            "schema": ORDER_SCHEMA,
            **comparison.figures(),
        },
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
