"""What the log store tests do with a store: put a batch of records, export a workspace's
signed log, read every page of a listing, open a second store on the same database.
"""

from __future__ import annotations

from contextlib import aclosing

from services.portal.delivery_log.export import export_lines
from services.portal.delivery_log.postgres_store import postgres_store
from services.portal.delivery_log.sql_store import SqlLogStore
from services.portal.delivery_log.sqlite_store import sqlite_store
from services.portal.delivery_log.store import DeliveryFilter, DeliverySummary, ProjectionBatch
from signet.records.model import Delivery, Outcome
from signet.security.chain_key import LogSigner

NOW = 1_760_500_000_000
SIGNER = LogSigner.derive(b"\x07" * 32)


async def put(
    store: SqlLogStore,
    deliveries: list[Delivery] | None = None,
    outcomes: list[Outcome] | None = None,
    now: int = NOW,
) -> None:
    await store.apply(ProjectionBatch(deliveries or [], outcomes or []), now_ms=now)


async def export(store: SqlLogStore, workspace_id: str) -> bytes:
    async with aclosing(export_lines(store, workspace_id, SIGNER, exported_at=NOW)) as lines:
        return b"".join([line async for line in lines])


async def all_pages(
    store: SqlLogStore, workspace_id: str, filters: DeliveryFilter, limit: int
) -> list[list[DeliverySummary]]:
    pages, cursor = [], None
    while True:
        page = await store.list_deliveries(workspace_id, filters, cursor, limit)
        pages.append(list(page.items))
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def second_store(store: SqlLogStore) -> SqlLogStore:
    """A second, started store on the same database: another replica."""
    database = store.database
    if database.dialect.value == "sqlite":
        other = sqlite_store("sqlite:///" + str(database._path))  # type: ignore[attr-defined]
    else:
        dsn, schema = database._dsn, database._schema  # type: ignore[attr-defined]
        other = postgres_store(f"{dsn}?schema={schema}", pool_size=4)
    await other.start()
    return other
