"""A rollback that fails after a failed transaction is logged, and the transaction's own
error is the one raised."""

from __future__ import annotations

import logging

import pytest

from services.portal.delivery_log.database import roll_back


async def test_a_failing_rollback_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise ConnectionResetError("the connection is gone")

    with caplog.at_level(logging.WARNING):
        await roll_back(broken)
    (record,) = caplog.records
    assert record.message == "rollback failed too"
    assert record.exc_info is not None and "connection is gone" in str(record.exc_info[1])


async def test_a_rollback_that_works_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    async def rollback() -> None:
        calls.append(True)

    await roll_back(rollback)
    assert calls == [True] and not caplog.records
