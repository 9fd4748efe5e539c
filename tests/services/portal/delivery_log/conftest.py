"""The delivery log's stores, on a fresh SQLite file and a fresh PostgreSQL schema.

PostgreSQL is the machine's own (127.0.0.1:5432, trust auth, database ``test``); each test
gets a schema of its own, dropped afterwards. ``SIGNET_TEST_POSTGRES_URL`` overrides it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from services.portal.delivery_log.postgres_store import PostgresDatabase, postgres_store
from services.portal.delivery_log.sql_store import SqlLogStore
from services.portal.delivery_log.sqlite_store import sqlite_store

POSTGRES_URL = os.environ.get(
    "SIGNET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


def postgres_url(schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}schema={schema}"


def postgres_url_through(port: int) -> str:
    """The test database by way of a forwarder on ``port`` (tests/tcp_forwarder.py), in a
    schema of its own."""
    parts = urlsplit(POSTGRES_URL)
    host = f"127.0.0.1:{port}"
    netloc = f"{parts.username}@{host}" if parts.username else host
    url = urlunsplit(parts._replace(netloc=netloc))
    separator = "&" if parts.query else "?"
    return f"{url}{separator}schema=t_outage_{uuid.uuid4().hex[:12]}"


def database_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'log' / 'signet.db'}"
    return postgres_url(f"t_log_{uuid.uuid4().hex[:12]}")


async def drop(store: SqlLogStore) -> None:
    if isinstance(store.database, PostgresDatabase):
        await store.database.drop_schema()


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlLogStore]:
    url = database_url(request.param, tmp_path)
    opened = sqlite_store(url) if request.param == "sqlite" else postgres_store(url, pool_size=4)
    await opened.start()
    try:
        yield opened
    finally:
        await drop(opened)
        await opened.stop()
