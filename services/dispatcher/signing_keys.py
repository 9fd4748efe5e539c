"""Opens a destination's sealed signing secrets at send time (only the dispatcher does).

Looked up per attempt, never cached across config changes, so a rotation applies to
deliveries and retries already queued. The newest secret is the primary; older ones sign
beside it until their ``expires_at`` (the rotation overlap).
"""

from __future__ import annotations

from collections.abc import Sequence

from signet.records import Destination, SigningSecret
from signet.secrets import MasterKeyRing, secret_aad


def active_secrets(secrets: Sequence[SigningSecret], now_ms: int) -> list[SigningSecret]:
    """Newest first: the primary always, then older secrets still inside their overlap."""
    ordered = sorted(secrets, key=lambda s: s.created_at, reverse=True)
    return [
        s for i, s in enumerate(ordered) if i == 0 or s.expires_at is None or s.expires_at > now_ms
    ]


class SigningKeys:
    def __init__(self, ring: MasterKeyRing) -> None:
        self._ring = ring

    def for_destination(
        self, workspace_id: str, destination: Destination, now_ms: int
    ) -> list[bytes]:
        """Plain secrets, primary first; SecretError when one does not open."""
        aad = secret_aad(workspace_id, destination.id)
        return [self._ring.open(s.sealed, aad) for s in active_secrets(destination.secrets, now_ms)]
