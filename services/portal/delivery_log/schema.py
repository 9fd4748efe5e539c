"""The delivery log's tables, written once for both SQL dialects.

Both tables are keyed by (workspace_id, id): a record naming another workspace's delivery
id lands in a row of its own and can never show up in that workspace's answers.
``log_heads`` keeps each chain's newest link, so the chain goes on after retention deleted
every entry. Statements are idempotent (``IF NOT EXISTS``): every replica runs them at
start-up. A later change to the tables adds a numbered migration beside these
(:func:`_migrations`): each runs once per database, inside the transaction that records
it in ``log_migrations`` (``database.migrate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


_TYPES = {
    Dialect.SQLITE: {"BIGINT": "INTEGER", "BYTES": "BLOB", "FLOAT": "REAL"},
    Dialect.POSTGRESQL: {"BIGINT": "BIGINT", "BYTES": "BYTEA", "FLOAT": "DOUBLE PRECISION"},
}

_DDL = """
CREATE TABLE IF NOT EXISTS log_deliveries (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_created_at {BIGINT} NOT NULL,
    body {BYTES},
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_attempt_id TEXT,
    last_status TEXT,
    last_attempt_at {BIGINT},
    last_attempt_no INTEGER,
    last_http_status INTEGER,
    next_attempt_at {BIGINT},
    replay_of TEXT,
    first_seen_at {BIGINT} NOT NULL,
    updated_at {BIGINT} NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX IF NOT EXISTS log_deliveries_by_time
    ON log_deliveries (workspace_id, event_created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS log_deliveries_by_destination
    ON log_deliveries (workspace_id, destination_id, event_created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS log_deliveries_by_status
    ON log_deliveries (workspace_id, status, event_created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS log_deliveries_by_event ON log_deliveries (workspace_id, event_id);
CREATE INDEX IF NOT EXISTS log_deliveries_by_update ON log_deliveries (updated_at);

CREATE TABLE IF NOT EXISTS log_attempts (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seq {BIGINT} NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    entry TEXT NOT NULL,
    logged_at {BIGINT} NOT NULL,
    delivery_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at {BIGINT} NOT NULL,
    event_created_at {BIGINT} NOT NULL,
    url TEXT,
    http_status INTEGER,
    latency_ms {FLOAT},
    error TEXT,
    response_excerpt TEXT,
    request_headers TEXT NOT NULL,
    next_attempt_at {BIGINT},
    replay_of TEXT,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, seq)
);
CREATE INDEX IF NOT EXISTS log_attempts_by_delivery
    ON log_attempts (workspace_id, delivery_id, seq);
-- An event's attempts are found through its deliveries (log_attempts_by_delivery): an
-- index by event id took a random page per attempt (SDK event ids are hashes).
DROP INDEX IF EXISTS log_attempts_by_event;
CREATE INDEX IF NOT EXISTS log_attempts_by_logged ON log_attempts (logged_at);

CREATE TABLE IF NOT EXISTS log_heads (
    workspace_id TEXT PRIMARY KEY,
    seq {BIGINT} NOT NULL,
    hash TEXT NOT NULL,
    updated_at {BIGINT} NOT NULL
);

CREATE TABLE IF NOT EXISTS log_migrations (
    number INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at {BIGINT} NOT NULL
);
"""


# Payload erasure (docs/operations.md#7-retention-and-erasure): new tables with nothing to
# move into them, so created if missing like the ones above, not a numbered migration.
# ``log_erasures`` remembers each erased event for good (it refuses a later copy of its body);
# ``log_chain_notes`` holds the chain entries that are not attempts (``kind: erasure``),
# numbered from the same head as ``log_attempts`` and trimmed with them by retention.
_ERASURES = """
CREATE TABLE IF NOT EXISTS log_erasures (
    workspace_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    erasure_id TEXT NOT NULL,
    erased_at {BIGINT} NOT NULL,
    PRIMARY KEY (workspace_id, event_id)
);
CREATE TABLE IF NOT EXISTS log_chain_notes (
    workspace_id TEXT NOT NULL,
    seq {BIGINT} NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    entry TEXT NOT NULL,
    logged_at {BIGINT} NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);
CREATE INDEX IF NOT EXISTS log_chain_notes_by_logged ON log_chain_notes (logged_at);
"""


def statements(dialect: Dialect) -> list[str]:
    """The DDL for ``dialect``, one statement per item."""
    ddl = (_DDL + _ERASURES).format(**_TYPES[dialect])
    return [s.strip() for s in ddl.split(";") if s.strip()]


@dataclass(frozen=True, slots=True)
class Migration:
    number: int
    name: str
    statements: tuple[str, ...]  # ``{BIGINT}`` etc. filled in per dialect


def _migrations() -> tuple[Migration, ...]:
    # Imported here: the rollup's module uses the database helpers, which import this one.
    from services.portal.delivery_log import idempotency_keys, rollup

    return (
        # 1: endpoint health (GET …/destinations/{id}/stats): the per-destination rollup,
        # backfilled from the attempts an existing log already holds.
        Migration(1, "log_stats", (rollup.TABLE_DDL, rollup.INDEX_DDL, rollup.BACKFILL)),
        # 2: the Idempotency-Key of the portal's creates (services/portal/idempotency.py).
        Migration(
            2,
            "idempotency_keys",
            (idempotency_keys.TABLE_DDL, idempotency_keys.INDEX_DDL),
        ),
    )


def pending_migrations(
    dialect: Dialect, applied: Iterable[int]
) -> list[tuple[int, str, list[str]]]:
    """The migrations not in ``applied``, oldest first: (number, name, statements)."""
    done = set(applied)
    return [
        (m.number, m.name, [s.format(**_TYPES[dialect]) for s in m.statements])
        for m in _migrations()
        if m.number not in done
    ]
