"""Opens a destination's sealed signing secrets at send time (only the dispatcher does).

Looked up per attempt from the destination as it is then, so a rotation applies to
deliveries and retries already queued. The newest secret is the primary; older ones sign
beside it until their ``expires_at`` (the rotation overlap). What a sealed secret opens
to is remembered by its ciphertext (a rotated secret is a new ciphertext): opening one is
two AES-GCM decryptions, which every attempt would otherwise repeat.
"""

from __future__ import annotations

from collections.abc import Sequence

from signet.records.model import Destination, SealedSecret, SigningSecret
from signet.security.secrets import MasterKeyRing, secret_aad


def active_secrets(secrets: Sequence[SigningSecret], now_ms: int) -> list[SigningSecret]:
    """Newest first: the primary always, then older secrets still inside their overlap."""
    ordered = sorted(secrets, key=lambda s: s.created_at, reverse=True)
    return [
        s for i, s in enumerate(ordered) if i == 0 or s.expires_at is None or s.expires_at > now_ms
    ]


# Opened secrets remembered; past it the memory starts afresh.
MAX_OPENED = 4096


class SigningKeys:
    def __init__(self, ring: MasterKeyRing) -> None:
        self._ring = ring
        self._opened: dict[tuple[str, bytes, bytes, bytes], bytes] = {}

    @property
    def ring(self) -> MasterKeyRing:
        return self._ring

    def for_destination(
        self, workspace_id: str, destination: Destination, now_ms: int
    ) -> list[bytes]:
        """Plain secrets, primary first; SecretError when one does not open."""
        aad = secret_aad(workspace_id, destination.id)
        return [self._open(s.sealed, aad) for s in active_secrets(destination.secrets, now_ms)]

    def _open(self, sealed: SealedSecret, aad: bytes) -> bytes:
        key = (sealed.key_id, sealed.wrapped_key, sealed.ciphertext, aad)
        plain = self._opened.get(key)
        if plain is None:
            plain = self._ring.open(sealed, aad)  # SecretError is never remembered
            if len(self._opened) >= MAX_OPENED:
                self._opened.clear()
            self._opened[key] = plain
        return plain
