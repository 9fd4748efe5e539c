"""What a running dev stack offers: its URLs, its keys and where it keeps things."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from signet.dev.devstack.restore import RestoreReport

SEED_EVENT = "order.completed"
SEED_RESOURCE = "order"
SEED_RESOURCE_ID = "ord_lannister_77"
# The seed use case's order, emitted by the walk-through and by `signet demo`
# (signet/dev/demo/scenario.py).
SEED_PAYLOAD: dict[str, str | int] = {
    "order_id": "ord_lannister_77",
    "customer_id": "cus_lannister",
    "account_id": "acc_casterly",
    "total_cents": 12900,
    "currency": "usd",
    "items": 3,
    "completed_at": "2026-04-17T18:22:00Z",
}


@dataclass(slots=True, frozen=True)
class StackInfo:
    ingest_url: str
    portal_url: str
    bootstrap: str
    embedded_broker: bool
    operator_key: str = field(repr=False)
    receiver_url: str  # where the walk-through's destination points
    receiver_secret: str = field(repr=False)
    receiver_running: bool  # False: the walk-through asks to start `signet listen`
    state_dir: Path
    ready_seconds: float
    broker_log: Path | None = None
    walkthrough_path: Path | None = None
    embed_host_url: str | None = None  # the example host page, when it runs
    # The embedded broker only: what the start did with the previous run's setup.
    restore: RestoreReport | None = None
