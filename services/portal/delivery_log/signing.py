"""The platform's Ed25519 log key: configured, or derived so every replica agrees.

``SIGNET_LOG_SIGNING_KEY`` (base64 of a 32-byte raw private key) wins when set. Otherwise
each key of the master key ring derives one with HKDF-SHA256 (info
``signet/log-signing-key/v1``); the ring's first key signs. Replicas sharing the ring
therefore sign alike without another secret to distribute. Rotating the master keys
rotates the log key: while an old master key stays in the ring, its log key is still
published (``keys`` of ``/v1/log-signing-key``) so older exports keep verifying; keep a
copy of the public key beside any export you archive.
"""

from __future__ import annotations

from dataclasses import dataclass

from signet.security.chain_key import LogSigner
from signet.security.secrets import MasterKeyRing
from signet.settings import PortalSettings


@dataclass(slots=True, frozen=True)
class LogKeys:
    signer: LogSigner
    published: tuple[LogSigner, ...]  # the signer first, then keys of older master keys

    @classmethod
    def from_settings(cls, settings: PortalSettings) -> LogKeys:
        if settings.log_signing_key is not None:
            configured = LogSigner.from_base64(settings.log_signing_key.get_secret_value())
            return cls(configured, (configured,))
        ring = MasterKeyRing.parse(settings.master_keys.get_secret_value())
        ordered = [ring.primary_id, *(kid for kid in ring.keys if kid != ring.primary_id)]
        signers = tuple(LogSigner.derive(ring.keys[kid]) for kid in ordered)
        return cls(signers[0], signers)

    def document(self) -> dict[str, object]:
        """The body of ``GET /v1/log-signing-key``."""
        return {**self.signer.describe(), "keys": [s.describe() for s in self.published]}
