"""The platform's Ed25519 log key: signs the head line of every delivery-log export.

The chain and the verifier live in ``signet/security/hash_chain.py``; only the portal signs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from signet.errors import ConfigurationError
from signet.security.hash_chain import ChainHead, canonical, rfc3339

ALGORITHM = "ed25519"
HKDF_INFO = b"signet/log-signing-key/v1"


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "lk_" + hashlib.sha256(raw).hexdigest()[:16]


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


@dataclass(slots=True, frozen=True)
class LogSigner:
    """Signs export heads with the platform's Ed25519 log key."""

    private_key: Ed25519PrivateKey

    @classmethod
    def from_base64(cls, text: str) -> LogSigner:
        """``SIGNET_LOG_SIGNING_KEY``: base64 of the 32-byte raw private key (the seed)."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
            return cls(Ed25519PrivateKey.from_private_bytes(raw))
        except (binascii.Error, ValueError) as exc:
            raise ConfigurationError(
                "SIGNET_LOG_SIGNING_KEY must be base64 of a 32-byte raw Ed25519 private key"
            ) from exc

    @classmethod
    def derive(cls, master_key: bytes) -> LogSigner:
        """The key every replica derives from the same master key (HKDF-SHA256 → seed)."""
        seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
            master_key
        )
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    def describe(self) -> dict[str, str]:
        return {
            "key_id": self.key_id,
            "algorithm": ALGORITHM,
            "public_key": public_key_b64(self.public_key),
        }

    def head_line(self, head: ChainHead, *, first_seq: int, anchor: str, exported_at: int) -> bytes:
        """The signed last line of an export."""
        body = {
            "workspace_id": head.workspace_id,
            "seq": head.seq,
            "hash": head.hash,
            "first_seq": first_seq,
            "anchor": anchor,
            "exported_at": rfc3339(exported_at),
            "key_id": self.key_id,
        }
        signature = base64.b64encode(self.private_key.sign(canonical(body))).decode()
        return canonical({"head": body, "signature": signature}) + b"\n"
