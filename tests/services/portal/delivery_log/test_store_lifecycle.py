"""The log store's start and stop, the same suite on SQLite and PostgreSQL: idempotent,
and starting drops an index the log no longer keeps, as an upgraded portal would.
"""

from __future__ import annotations

import pytest

from services.portal.delivery_log.sql_store import SqlLogStore
from tests.services.portal.delivery_log.store_calls import second_store

pytestmark = pytest.mark.timeout(60)


async def test_start_and_stop_are_idempotent(store: SqlLogStore) -> None:
    await store.start()
    other = await second_store(store)
    await other.stop()
    await other.stop()


async def test_an_index_the_log_no_longer_keeps_is_dropped_at_start(store: SqlLogStore) -> None:
    old = "log_attempts_by_event"  # found an event's attempts until 2026-11-27
    async with store.database.write() as conn:
        await conn.execute(f"CREATE INDEX {old} ON log_attempts (workspace_id, event_id)")
    assert old in await _index_names(store)
    other = await second_store(store)  # starting runs the DDL, as an upgraded portal would
    await other.stop()
    assert old not in await _index_names(store)
    assert "log_attempts_by_delivery" in await _index_names(store)


async def _index_names(store: SqlLogStore) -> set[str]:
    if store.database.dialect.value == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index'"
    else:
        query = "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema()"
    async with store.database.read() as conn:
        return {row["name"] for row in await conn.fetch(query)}
