"""The idempotency keys' rows on both databases: the first claim holds, a second finds it,
a row past its lifetime is neither found nor in the way."""

from __future__ import annotations

import asyncio

from services.portal.delivery_log.idempotency_keys import IdempotencyKeys, KeyRecord
from services.portal.delivery_log.sql_store import SqlLogStore

TTL_MS = 60_000
NOW = 1_800_000_000_000


def record(key: str = "order-42", *, fingerprint: str = "f1", created_at: int = NOW) -> KeyRecord:
    return KeyRecord("operator", key, fingerprint, b"\x00command", '{"sealed": 1}', created_at)


async def test_the_first_claim_holds_and_a_second_gets_it(store: SqlLogStore) -> None:
    keys = IdempotencyKeys(store.database, ttl_ms=TTL_MS)
    assert await keys.find("operator", "order-42", now_ms=NOW) is None

    first = record()
    assert await keys.claim(first) == (first, True)
    held, new = await keys.claim(record(fingerprint="f2", created_at=NOW + 5))
    assert (held, new) == (first, False)
    assert await keys.find("operator", "order-42", now_ms=NOW + 10) == first
    # Scopes do not meet: a workspace's key of the same name is its own.
    other = KeyRecord("ws_1", "order-42", "f3", b"c", None, NOW)
    assert await keys.claim(other) == (other, True)


async def test_concurrent_claims_of_one_key_agree_on_one_row(store: SqlLogStore) -> None:
    keys = IdempotencyKeys(store.database, ttl_ms=TTL_MS)
    claims = [record(fingerprint=f"f{i}", created_at=NOW + i) for i in range(6)]
    results = await asyncio.gather(*(keys.claim(c) for c in claims))
    assert sum(new for _, new in results) == 1
    (winner,) = {held for held, _ in results}
    assert winner in claims


async def test_applied_is_recorded_once(store: SqlLogStore) -> None:
    keys = IdempotencyKeys(store.database, ttl_ms=TTL_MS)
    await keys.claim(record())
    await keys.mark_applied("operator", "order-42", now_ms=NOW + 1)
    await keys.mark_applied("operator", "order-42", now_ms=NOW + 2)
    found = await keys.find("operator", "order-42", now_ms=NOW + 3)
    assert found is not None and found.applied_at == NOW + 1


async def test_a_key_past_its_lifetime_is_free_again(store: SqlLogStore) -> None:
    keys = IdempotencyKeys(store.database, ttl_ms=TTL_MS)
    old = record(created_at=NOW)
    await keys.claim(old)
    later = NOW + TTL_MS
    assert await keys.find("operator", "order-42", now_ms=later) is None
    again = record(fingerprint="f2", created_at=later)
    assert await keys.claim(again) == (again, True)  # the old row was deleted, not kept
    async with store.database.read() as conn:
        rows = await conn.fetch("SELECT fingerprint FROM idempotency_keys")
    assert rows == [{"fingerprint": "f2"}]
