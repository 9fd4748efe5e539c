"""Signature schemes: sign a delivery, verify one, make and check secrets.

The schemes and their headers: docs/architecture.md#signing.

The dispatcher calls one function::

    headers = sign_delivery(scheme, [primary, *older], msg_id=event.id, timestamp=s, body=b)

Secrets come newest first: the first is the primary, the others are older secrets still
inside their rotation overlap. Each is the secret's text form (or its UTF-8 bytes, as
``MasterKeyRing.open`` returns it). The result always includes ``webhook-id`` (the
deduplication id, docs/architecture.md#what-a-receiver-gets) plus the scheme's own headers.
A destination may send a one-header scheme's signature (``hmac-sha256``, ``hmac-sha512``,
``github``) under a name its receivers already read (``signature_header=``, on both
sides); the value is unchanged.

The portal calls two, and stores what they return (seal ``secret``, keep ``public_key``,
show ``shown`` once)::

    material = generate_secret(scheme)         # a new secret, or an Ed25519 key pair
    material = validate_secret(scheme, text)   # a customer's own; InvalidSecretError says why not

Receivers (tests, docs, `signet` tools) verify with ``verify_delivery``, which raises
:class:`SignatureError` (or its :class:`TimestampError`) when a request does not verify.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from signet_sdk.signing import ed25519, github, hmac_sha256, standard_webhooks
from signet_sdk.signing.base import DEFAULT_TOLERANCE_SECONDS, SecretMaterial, SecretText
from signet_sdk.signing.errors import (
    InvalidSecretError,
    SignatureError,
    SigningError,
    TimestampError,
    UnknownSchemeError,
)
from signet_sdk.signing.headers import HUB_SIGNATURE_256, SIGNET_SIGNATURE, WEBHOOK_ID
from signet_sdk.signing.schemes import SignatureScheme

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SCHEMES",
    "InvalidSecretError",
    "SchemeSpec",
    "SecretMaterial",
    "SecretText",
    "SignatureError",
    "SigningError",
    "TimestampError",
    "UnknownSchemeError",
    "as_scheme_headers",
    "generate_secret",
    "renamable_header",
    "scheme_of",
    "sign_delivery",
    "validate_secret",
    "verify_delivery",
]


class SignFn(Protocol):
    def __call__(
        self, secrets: Sequence[SecretText], msg_id: str, timestamp: int, body: bytes
    ) -> dict[str, str]: ...


class VerifyFn(Protocol):
    def __call__(
        self,
        key: SecretText,
        headers: Mapping[str, str],
        body: bytes,
        *,
        tolerance_seconds: float,
        now: float | None,
    ) -> None: ...


@dataclass(slots=True, frozen=True)
class SchemeSpec:
    """One scheme's functions and the facts a caller may need to explain it."""

    scheme: SignatureScheme
    sign: SignFn
    verify: VerifyFn
    generate_secret: Callable[[], SecretMaterial]
    validate_secret: Callable[[str], SecretMaterial]
    # False for `github`: its single-valued header signs with the primary only.
    signs_with_older_secrets: bool = True
    # False for `github`: nothing in the signature bounds a replay in time.
    timestamped: bool = True
    # The one header the signature travels in, which a destination may rename (the
    # receivers it migrates already read another name); None where the scheme's
    # specification fixes its headers (Standard Webhooks).
    signature_header: str | None = None


def _verify_standard(
    key: SecretText,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float,
    now: float | None,
) -> None:
    standard_webhooks.verify(key, headers, body, tolerance_seconds=tolerance_seconds, now=now)


def _verify_ed25519(
    key: SecretText,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float,
    now: float | None,
) -> None:
    ed25519.verify(key, headers, body, tolerance_seconds=tolerance_seconds, now=now)


def _verify_hmac(digest: hmac_sha256.Digest) -> VerifyFn:
    def verify(
        key: SecretText,
        headers: Mapping[str, str],
        body: bytes,
        *,
        tolerance_seconds: float,
        now: float | None,
    ) -> None:
        hmac_sha256.verify(
            key, headers, body, tolerance_seconds=tolerance_seconds, now=now, digest=digest
        )

    return verify


def _verify_github(
    key: SecretText,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float,
    now: float | None,
) -> None:
    github.verify(key, headers, body)


def _sign_hmac(digest: hmac_sha256.Digest) -> SignFn:
    def sign(
        secrets: Sequence[SecretText], msg_id: str, timestamp: int, body: bytes
    ) -> dict[str, str]:
        return hmac_sha256.sign(secrets, msg_id, timestamp, body, digest=digest)

    return sign


def _hmac_spec(scheme: SignatureScheme, digest: hmac_sha256.Digest) -> SchemeSpec:
    """`hmac-sha256` and `hmac-sha512`: one format, one secret rule, two digests."""
    return SchemeSpec(
        scheme,
        _sign_hmac(digest),
        _verify_hmac(digest),
        hmac_sha256.generate_secret,
        hmac_sha256.validate_secret,
        signature_header=SIGNET_SIGNATURE,
    )


SCHEMES: Mapping[SignatureScheme, SchemeSpec] = {
    spec.scheme: spec
    for spec in (
        SchemeSpec(
            SignatureScheme.STANDARD_WEBHOOKS,
            standard_webhooks.sign,
            _verify_standard,
            standard_webhooks.generate_secret,
            standard_webhooks.validate_secret,
        ),
        SchemeSpec(
            SignatureScheme.STANDARD_WEBHOOKS_ED25519,
            ed25519.sign,
            _verify_ed25519,
            ed25519.generate_secret,
            ed25519.validate_secret,
        ),
        _hmac_spec(SignatureScheme.HMAC_SHA256, hmac_sha256.Digest.SHA256),
        _hmac_spec(SignatureScheme.HMAC_SHA512, hmac_sha256.Digest.SHA512),
        SchemeSpec(
            SignatureScheme.GITHUB,
            github.sign,
            _verify_github,
            github.generate_secret,
            github.validate_secret,
            signs_with_older_secrets=False,
            timestamped=False,
            signature_header=HUB_SIGNATURE_256,
        ),
    )
}


def scheme_of(name: str) -> SchemeSpec:
    """The scheme a destination names (``"standard-webhooks"`` …), or UnknownSchemeError."""
    try:
        return SCHEMES[SignatureScheme(name)]
    except (ValueError, KeyError) as exc:
        known = ", ".join(s.value for s in SCHEMES)
        raise UnknownSchemeError(f"unknown signature scheme {name!r}; use one of {known}") from exc


def renamable_header(spec: SchemeSpec) -> str:
    """The scheme's own signature header, which a destination may send under another name;
    UnknownSchemeError for a scheme whose specification fixes its headers."""
    if spec.signature_header is None:
        raise UnknownSchemeError(
            f"the {spec.scheme.value} scheme's headers are fixed by its specification; "
            "only hmac-sha256, hmac-sha512 and github send their signature under another name"
        )
    return spec.signature_header


def sign_delivery(
    scheme: str,
    secrets: Sequence[SecretText],
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    signature_header: str | None = None,
) -> dict[str, str]:
    """The headers that sign ``body``: the scheme's own plus ``webhook-id``; the signature
    under ``signature_header`` when given (lower-cased).

    ``timestamp`` is in epoch seconds. Raises InvalidSecretError when there is no secret or
    one does not fit the scheme, UnknownSchemeError for an unknown scheme (or one whose
    headers cannot be renamed).
    """
    spec = scheme_of(scheme)
    own = None if signature_header is None else renamable_header(spec)
    headers = spec.sign(secrets, msg_id, timestamp, body)
    if own is not None and signature_header is not None:
        headers[signature_header.lower()] = headers.pop(own)
    headers.setdefault(WEBHOOK_ID, msg_id)
    return headers


def verify_delivery(
    scheme: str,
    key: SecretText,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
    signature_header: str | None = None,
) -> None:
    """Receiver side: ``key`` is the shared secret, or the ``whpk_`` key for Ed25519;
    ``signature_header`` the destination's own name for the signature header, if it has one."""
    spec = scheme_of(scheme)
    spec.verify(
        key,
        as_scheme_headers(spec, headers, signature_header),
        body,
        tolerance_seconds=tolerance_seconds,
        now=now,
    )


def as_scheme_headers(
    spec: SchemeSpec, headers: Mapping[str, str], signature_header: str | None
) -> dict[str, str]:
    """``headers`` lower-cased, the signature under the scheme's own name: what its
    verifier reads. A request without the renamed header has no signature (the scheme's
    own name, if sent too, is not looked at)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if signature_header is None:
        return lowered
    own = renamable_header(spec)
    if signature_header.lower() == own:
        return lowered
    lowered.pop(own, None)
    renamed = lowered.get(signature_header.lower())
    if renamed is None:
        raise SignatureError(f"missing {signature_header.lower()} header")
    lowered[own] = renamed
    return lowered


def generate_secret(scheme: str) -> SecretMaterial:
    return scheme_of(scheme).generate_secret()


def validate_secret(scheme: str, text: str) -> SecretMaterial:
    return scheme_of(scheme).validate_secret(text)
