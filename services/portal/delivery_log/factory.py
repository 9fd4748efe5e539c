"""Which database the delivery log lives in, from ``SIGNET_DATABASE_URL``."""

from __future__ import annotations

from services.portal.delivery_log.postgres_store import postgres_store
from services.portal.delivery_log.sql_store import SqlLogStore
from services.portal.delivery_log.sqlite_store import sqlite_store
from signet.errors import ConfigurationError


def store_for(database_url: str, *, pool_size: int = 10) -> SqlLogStore:
    """``sqlite:///path`` (the embedded default) or ``postgresql://…[?schema=name]``."""
    try:
        if database_url.startswith("sqlite:"):
            return sqlite_store(database_url)
        if database_url.startswith(("postgresql://", "postgres://")):
            return postgres_store(database_url, pool_size=pool_size)
    except ValueError as exc:
        raise ConfigurationError(f"SIGNET_DATABASE_URL: {exc}") from exc
    raise ConfigurationError(
        "SIGNET_DATABASE_URL must be sqlite:///<path> or postgresql://user@host/db"
    )
