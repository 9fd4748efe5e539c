"""Signing-secret rotation: a new primary secret, the previous one signing beside it a while.

The dispatcher opens a destination's secrets when it sends (never when the delivery was
routed) and signs with the newest one plus every older one whose ``expires_at`` is still
ahead. So a rotation is only a new destination record: the new secret first (newest
``created_at``), the previous primary given ``expires_at = now + overlap``, secrets that
already expired pruned. Deliveries and retries already queued pick it up at their next
attempt. ``overlap_seconds = 0`` is a cut-over: only the new secret is kept.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors
from signet_sdk.contract.models import Body
from signet_sdk.ids import new_id
from signet_sdk.signing import InvalidSecretError, SecretMaterial

from services.portal.body_fields import NULL_UNDOCUMENTED, plain_text
from services.portal.signing_secrets import SchemeCatalog
from services.portal.views import DestinationInfo
from signet.records.model import Destination, SignatureScheme, SigningSecret
from signet.security.secrets import MasterKeyRing, hint, secret_aad

DEFAULT_OVERLAP_SECONDS = 24 * 3600
# Past the longest a retry can wait (7 days) an older secret signs nothing it has to.
MAX_OVERLAP_SECONDS = 30 * 24 * 3600
# Every secret signs every request during its overlap: bound the header and the work.
MAX_SIGNING_SECRETS = 10
SECRET_MAX = 1024

OwnSecret = Annotated[
    str, StringConstraints(min_length=1, max_length=SECRET_MAX), AfterValidator(plain_text)
]
Overlap = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description="how long the previous secret keeps signing; 0 drops every older "
        "secret at once",
    ),
]


class RotationRequest(Body):
    """The body of ``rotate-secret``; every field is optional, and so is the body."""

    secret: Annotated[
        OwnSecret | None,
        NULL_UNDOCUMENTED,
        Field(
            description="your own secret, checked like at creation; omit it to have one "
            "generated (Ed25519: a new key pair)",
            repr=False,
        ),
    ] = None
    overlap_seconds: Annotated[Overlap | None, NULL_UNDOCUMENTED] = DEFAULT_OVERLAP_SECONDS

    @property
    def overlap(self) -> int:
        """Seconds of overlap (``null`` is the default, as if left out)."""
        return DEFAULT_OVERLAP_SECONDS if self.overlap_seconds is None else self.overlap_seconds


class RotatedDestination(DestinationInfo):
    """The destination after a rotation, newest (primary) secret first."""

    secret: Annotated[str | None, NULL_UNDOCUMENTED] = Field(
        default=None, description="a generated secret, shown this once"
    )
    public_key: Annotated[str | None, NULL_UNDOCUMENTED] = Field(
        default=None, description="Ed25519: the new whpk_ public key"
    )


@dataclass(slots=True, frozen=True)
class Rotated:
    """The destination after a rotation, and what the customer may see of the new secret once.

    ``revealed_secret`` is set only when Signet generated a symmetric secret;
    ``public_key`` only for Ed25519 (the private half is never shown).
    """

    destination: Destination
    revealed_secret: str | None = dataclasses.field(default=None, repr=False)
    public_key: str | None = None


def rotated_secrets(
    current: list[SigningSecret], new: SigningSecret, *, now_ms: int, overlap_seconds: int
) -> list[SigningSecret]:
    """The secret list after ``new`` becomes primary (pure).

    Newest first. With an overlap, each older secret still signing keeps doing so: the
    previous primary (no ``expires_at``) until ``now + overlap``, the others until their
    own expiry; expired ones are dropped. Without one, ``new`` is the only secret left.
    """
    if overlap_seconds == 0:
        return [new]
    until = now_ms + overlap_seconds * 1000
    kept = [
        s if s.expires_at is not None else dataclasses.replace(s, expires_at=until)
        for s in sorted(current, key=lambda s: s.created_at, reverse=True)
        if s.expires_at is None or s.expires_at > now_ms
    ]
    return [new, *kept]


class SecretRotator:
    """Validates a rotation against the destination's scheme and builds the new record."""

    def __init__(self, ring: MasterKeyRing, schemes: SchemeCatalog) -> None:
        self._ring = ring
        self._schemes = schemes

    def rotate(
        self, workspace_id: str, destination: Destination, request: RotationRequest, *, now_ms: int
    ) -> Rotated:
        """``destination`` with a new primary secret, or FieldErrors naming the field."""
        material = self._material(destination, request.secret)
        # Strictly newer than every secret it replaces, whatever the clocks of two replicas
        # say: the newest created_at is what makes a secret the primary.
        created = max([now_ms, *(s.created_at + 1 for s in destination.secrets)])
        new = SigningSecret(
            id=new_id("sec", now_ms=created),
            sealed=self._ring.seal(
                material.secret.encode(), secret_aad(workspace_id, destination.id)
            ),
            hint=hint(material.shown),
            public_key=material.public_key,
            created_at=created,
        )
        secrets = rotated_secrets(
            destination.secrets, new, now_ms=now_ms, overlap_seconds=request.overlap
        )
        if len(secrets) > MAX_SIGNING_SECRETS:
            raise FieldErrors(
                [
                    FieldError(
                        "overlap_seconds",
                        FieldErrorCode.CONFLICT,
                        f"{len(secrets)} secrets would be signing at once (at most "
                        f"{MAX_SIGNING_SECRETS}); wait for older ones to expire or rotate "
                        "with overlap_seconds 0",
                    )
                ]
            )
        rotated = dataclasses.replace(
            destination, secrets=secrets, updated_at=max(now_ms, destination.updated_at)
        )
        generated = request.secret is None and material.public_key is None
        return Rotated(rotated, material.secret if generated else None, material.public_key)

    def _material(self, destination: Destination, own: str | None) -> SecretMaterial:
        try:
            scheme = SignatureScheme(destination.signature_scheme)
        except ValueError as exc:
            raise FieldErrors(
                [
                    FieldError(
                        "secret",
                        FieldErrorCode.INVALID,
                        f"unknown scheme {destination.signature_scheme!r}",
                    )
                ]
            ) from exc
        if own is None:
            return self._schemes.generate(scheme)
        try:
            return self._schemes.from_customer(scheme, own)
        except InvalidSecretError as exc:
            message = f"{exc} ({scheme.value})"
            raise FieldErrors([FieldError("secret", FieldErrorCode.FORMAT, message)]) from exc
