"""Which secret each signature scheme takes: generate one, or check a customer's own.

A thin seam over ``signet_sdk.signing`` (the same functions the dispatcher signs with decide
what the portal accepts, so a stored secret is always one the dispatcher can use). The
catalog also says which schemes a destination may choose in this deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

from signet_sdk import signing
from signet_sdk.signing import SecretMaterial

from signet.records.model import SignatureScheme


@dataclass(slots=True, frozen=True)
class SchemeCatalog:
    """The schemes a destination may use, and their secret rules."""

    schemes: tuple[SignatureScheme, ...]

    @classmethod
    def default(cls) -> SchemeCatalog:
        return cls(tuple(signing.SCHEMES))

    def offers(self, scheme: SignatureScheme) -> bool:
        return scheme in self.schemes

    @property
    def names(self) -> list[str]:
        return [s.value for s in self.schemes]

    @staticmethod
    def generate(scheme: SignatureScheme) -> SecretMaterial:
        """A fresh secret (or, for Ed25519, a key pair whose public half is shown)."""
        return signing.generate_secret(scheme.value)

    @staticmethod
    def from_customer(scheme: SignatureScheme, text: str) -> SecretMaterial:
        """The customer's own secret, or :class:`signing.InvalidSecretError` saying why not."""
        return signing.validate_secret(scheme.value, text)
