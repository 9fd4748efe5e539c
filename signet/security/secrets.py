"""Envelope encryption of customer secrets (docs/architecture.md#secrets).

Each secret gets its own random 256-bit data key; the secret is sealed with AES-256-GCM
under that key, and the data key is wrapped with AES-256-GCM under the first master key
of the ring (``SIGNET_MASTER_KEYS="kid1:<base64 32 bytes>,kid2:…"``). Every key in the ring
can open; the first one seals. The AAD binds a ciphertext to its workspace and
destination, so a sealed secret copied into another destination does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from signet.errors import ConfigurationError, SecretError
from signet.records.model import SealedSecret

_NONCE = 12


def secret_aad(workspace_id: str, destination_id: str, purpose: str = "signing") -> bytes:
    return f"signet/{purpose}/{workspace_id}/{destination_id}".encode()


def slack_url_aad(workspace_id: str, destination_id: str) -> bytes:
    """AAD of a Slack channel's sealed incoming-webhook URL (portal seals, alerter opens)."""
    return secret_aad(workspace_id, destination_id, "slack-url")


def header_aad(workspace_id: str, destination_id: str, name: str) -> bytes:
    """AAD of a sensitive header's sealed value: bound to its (case-folded) name too, so a
    value moved to another header does not open."""
    return secret_aad(workspace_id, destination_id, f"header/{name.lower()}")


def client_key_aad(workspace_id: str, destination_id: str) -> bytes:
    """AAD of a destination's sealed mutual-TLS private key."""
    return secret_aad(workspace_id, destination_id, "tls-key")


def generate_master_key() -> str:
    """A new ring entry, ``<kid>:<base64 key>``, for ``SIGNET_MASTER_KEYS``."""
    return f"k{secrets.token_hex(4)}:{base64.b64encode(os.urandom(32)).decode()}"


@dataclass(slots=True, frozen=True)
class MasterKeyRing:
    """Key-encryption keys by id; ``primary_id`` seals, all open."""

    keys: dict[str, bytes]
    primary_id: str

    @classmethod
    def parse(cls, spec: str) -> MasterKeyRing:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for entry in filter(None, (part.strip() for part in spec.split(","))):
            kid, sep, encoded = entry.partition(":")
            if not sep or not kid:
                raise ConfigurationError("master key entries look like <kid>:<base64 32 bytes>")
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                raise ConfigurationError(f"master key {kid} is not valid base64") from exc
            if len(key) != 32:
                raise ConfigurationError(f"master key {kid} must be 32 bytes, got {len(key)}")
            if kid in keys:
                raise ConfigurationError(f"master key id {kid} appears twice")
            keys[kid] = key
            order.append(kid)
        if not order:
            raise ConfigurationError("SIGNET_MASTER_KEYS is empty")
        return cls(keys, order[0])

    def seal(self, plaintext: bytes, aad: bytes) -> SealedSecret:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce, key_nonce = os.urandom(_NONCE), os.urandom(_NONCE)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)
        wrapped = key_nonce + AESGCM(self.keys[self.primary_id]).encrypt(
            key_nonce, data_key, self.primary_id.encode() + b"|" + aad
        )
        return SealedSecret(key_id=self.primary_id, wrapped_key=wrapped, ciphertext=ciphertext)

    def open(self, sealed: SealedSecret, aad: bytes) -> bytes:
        kek = self.keys.get(sealed.key_id)
        if kek is None:
            raise SecretError(f"no master key {sealed.key_id} in the key ring")
        try:
            wrapped = sealed.wrapped_key
            data_key = AESGCM(kek).decrypt(
                wrapped[:_NONCE], wrapped[_NONCE:], sealed.key_id.encode() + b"|" + aad
            )
            body = sealed.ciphertext
            return AESGCM(data_key).decrypt(body[:_NONCE], body[_NONCE:], aad)
        except (InvalidTag, ValueError) as exc:
            raise SecretError("sealed secret does not open (wrong key, AAD or tampered)") from exc

    def reseal(self, sealed: SealedSecret, aad: bytes) -> SealedSecret:
        """Re-wrap under the primary key (master-key rotation)."""
        return (
            sealed if sealed.key_id == self.primary_id else self.seal(self.open(sealed, aad), aad)
        )


def hint(secret: str) -> str:
    """What may be shown of a secret after creation: its last four characters."""
    return f"…{secret[-4:]}"


# A sensitive header value shorter than this shows no characters at all: the last four of
# an eight-character token would be half of it.
HEADER_HINT_MIN_LEN = 12


def header_hint(value: str) -> str:
    """What reads and records show of a sensitive header's value: ``…`` and its last four
    characters (only ``…`` for a value under :data:`HEADER_HINT_MIN_LEN`)."""
    return hint(value) if len(value) >= HEADER_HINT_MIN_LEN else "…"
