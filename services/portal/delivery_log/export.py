"""The tamper-evident export: a workspace's chain as JSON Lines, closed by a signed head.

The lines come from one snapshot of the log, so an export is consistent while the
projection appends and retention trims. After retention, the first line follows an entry
that is gone; its ``prev_hash`` is the export's anchor, which the signed head repeats, so
the trimmed chain still verifies from there (and only from there).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from services.portal.delivery_log.store import LogStore
from signet.security.chain_key import LogSigner
from signet.security.hash_chain import Link, export_line

EXPORT_BATCH = 500


async def export_lines(
    store: LogStore,
    workspace_id: str,
    signer: LogSigner,
    *,
    exported_at: int,
    batch_size: int = EXPORT_BATCH,
) -> AsyncGenerator[bytes, None]:
    """Yield the export a line at a time (close it with ``aclosing`` when abandoning it)."""
    async with store.snapshot(workspace_id) as snapshot:
        first: Link | None = None
        async for links in snapshot.links(batch_size):
            for link in links:
                first = first or link
                yield export_line(link)
        head = snapshot.head
        yield signer.head_line(
            head,
            first_seq=first.seq if first else head.seq + 1,
            anchor=first.prev_hash if first else head.hash,
            exported_at=exported_at,
        )
