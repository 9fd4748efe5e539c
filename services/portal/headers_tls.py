"""A webhook destination's custom request headers and client certificate (mutual TLS):
their body types, how they are sealed into the record, and how reads show them.

Headers (``headers``, ``sensitive_headers``): at most :data:`HEADERS_MAX`, and
:data:`HEADERS_BYTES_MAX` of names and values in all; names are RFC 9110 tokens, values
printable ASCII (no CR/LF); the names Signet sets itself are refused
(:func:`reserved_header`). A sensitive header (``authorization`` always is) is sealed
like a signing secret, under an AAD that names it; reads show ``…`` and its last four
characters. A PATCH with ``headers`` replaces the map; a sensitive header given as
``null`` keeps its stored value.

TLS (``tls``): the client certificate (PEM, then any intermediates), its private key
(sealed, never returned) and optionally the one CA the receiver's certificate must chain
to. A key that does not match its certificate is a field error (400).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC
from typing import Annotated, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors, RuleError
from signet_sdk.contract.models import Body

from signet.records.model import ClientTls, Destination, SealedHeader
from signet.security.secrets import MasterKeyRing, client_key_aad, header_aad, header_hint

HEADERS_MAX = 20
HEADERS_BYTES_MAX = 8 * 1024  # names and values, UTF-8 bytes
HEADER_NAME_MAX = 256
# Set by Signet on every request (or by the HTTP client): a customer's header would
# forge or break them.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "user-agent",
        "traceparent",
        "tracestate",
        "connection",
        "transfer-encoding",
    }
)
RESERVED_HEADER_PREFIXES = ("webhook-", "signet-", "x-hub-signature")
ALWAYS_SENSITIVE = frozenset({"authorization"})
PEM_MAX = 64 * 1024
# The embed flags a client certificate this close to its expiry.
CERTIFICATE_WARNING_DAYS = 14

# RFC 9110 §5.6.2: token = 1*tchar
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Visible ASCII, space and tab (RFC 9110 field-value, without obs-text).
_VALUE = re.compile(r"^[\t\x20-\x7e]*$")


# -- headers ---------------------------------------------------------------------------


def reserved_header(name: str) -> bool:
    lower = name.lower()
    return lower in RESERVED_HEADERS or lower.startswith(RESERVED_HEADER_PREFIXES)


def header_name_error(name: str) -> tuple[FieldErrorCode, str] | None:
    if not TOKEN.fullmatch(name) or len(name) > HEADER_NAME_MAX:
        return FieldErrorCode.FORMAT, f"{name!r} is not a header name (an RFC 9110 token)"
    if reserved_header(name):
        return FieldErrorCode.RESERVED, f"{name!r} is set by Signet and cannot be given"
    return None


def _check_name(name: str) -> str:
    if (error := header_name_error(name)) is not None:
        raise RuleError(error[1], error[0])
    return name


def _check_value(value: str) -> str:
    if not _VALUE.fullmatch(value):
        raise RuleError("must be printable ASCII, without CR or LF", FieldErrorCode.FORMAT)
    return value


def _check_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """What only the whole map can say; each name and value was checked on its own, so
    that its error names it (``headers.X-Api-Key``)."""
    if len(headers) > HEADERS_MAX:
        raise RuleError(f"at most {HEADERS_MAX} headers", FieldErrorCode.LENGTH)
    seen: set[str] = set()
    size = 0
    for name, value in headers.items():
        if name.lower() in seen:
            raise RuleError(f"{name!r} is given twice (names ignore case)", FieldErrorCode.INVALID)
        seen.add(name.lower())
        size += len(name) + len(value or "")
    if size > HEADERS_BYTES_MAX:
        raise RuleError(
            f"the headers' names and values are {size} bytes; at most {HEADERS_BYTES_MAX}",
            FieldErrorCode.TOO_LARGE,
        )
    return headers


def _check_sensitive(names: list[str]) -> list[str]:
    for name in names:
        _check_name(name)
    return names


HeaderName = Annotated[str, AfterValidator(_check_name)]
HeaderValue = Annotated[str, AfterValidator(_check_value)]
_HEADERS_SCHEMA = {"maxProperties": HEADERS_MAX}
Headers = Annotated[
    dict[HeaderName, HeaderValue],
    Field(
        description=f"extra request headers, sent on every attempt: at most {HEADERS_MAX} and "
        f"{HEADERS_BYTES_MAX} bytes in all; not webhook-*, signet-*, x-hub-signature*, "
        "content-type, content-length, host, user-agent, traceparent, tracestate, "
        "connection, transfer-encoding",
        examples=[{"X-Api-Key": "k_live_51Hx…", "X-Tenant": "acme"}],
        json_schema_extra=_HEADERS_SCHEMA,
    ),
    AfterValidator(_check_headers),
]
HeadersPatch = Annotated[
    dict[HeaderName, HeaderValue | None],
    Field(
        description="replaces the headers; a sensitive header given as null keeps its "
        "stored value. null: no headers",
        json_schema_extra=_HEADERS_SCHEMA,
    ),
    AfterValidator(_check_headers),
]
SensitiveHeaders = Annotated[
    list[str],
    Field(
        max_length=HEADERS_MAX,
        description="names of headers whose values are sealed and shown as …1234 "
        "(authorization always is)",
        examples=[["X-Api-Key"]],
    ),
    AfterValidator(_check_sensitive),
]


def header_changes(
    ring: MasterKeyRing,
    workspace_id: str,
    destination_id: str,
    headers: Mapping[str, str | None] | None,
    sensitive: list[str] | None,
    current: Destination | None = None,
) -> dict[str, Any]:
    """The record's ``headers`` and ``sealed_headers`` from a body's ``headers`` and
    ``sensitive_headers`` (None: not given), applied to ``current`` (None: a new one).

    Raises :class:`FieldErrors` for what needs both fields or the stored values: a
    sensitive name that is no header, a ``null`` with no stored sensitive value, a stored
    sensitive value no longer named sensitive (it is never unsealed for a read).
    """
    stored = {h.name.lower(): h for h in current.sealed_headers} if current else {}
    # Where an error about a kept value points: the header, or the set that re-sorts them.
    kept_field = "headers.{}" if headers is not None else "sensitive_headers"
    if headers is None:  # only sensitive_headers: re-sort the stored headers
        headers = dict(current.headers) if current else {}
        headers |= {h.name: None for h in stored.values()}
    if sensitive is None:
        secret_names = set(stored) | ALWAYS_SENSITIVE
    else:
        given = {name.lower() for name in headers}
        missing = [name for name in sensitive if name.lower() not in given]
        if missing:
            message = f"{', '.join(map(repr, missing))} is not in headers"
            raise FieldErrors([FieldError("sensitive_headers", FieldErrorCode.INVALID, message)])
        secret_names = {name.lower() for name in sensitive} | ALWAYS_SENSITIVE
    plain: dict[str, str] = {}
    sealed: list[SealedHeader] = []
    size = 0
    for name, value in headers.items():
        key = name.lower()
        if value is None:
            kept = stored.get(key)
            if kept is None:
                message = "null keeps a sensitive header's stored value, and it has none"
                raise FieldErrors([FieldError(f"headers.{name}", FieldErrorCode.REQUIRED, message)])
            if key not in secret_names:
                # A sealed value is never shown, so it is not unsealed either: whoever
                # makes the header plain gives its value again.
                message = (
                    f"the value of {name!r} is sealed and stays so: give it again in headers "
                    "to make the header not sensitive"
                )
                field = kept_field.format(name)
                raise FieldErrors([FieldError(field, FieldErrorCode.INVALID, message)])
            value = ring.open(kept.sealed, header_aad(workspace_id, destination_id, key)).decode()
            size += len(name) + len(value)
            sealed.append(SealedHeader(name, kept.sealed, kept.hint))
            continue
        else:
            size += len(name) + len(value)
        if key in secret_names:
            box = ring.seal(value.encode(), header_aad(workspace_id, destination_id, key))
            sealed.append(SealedHeader(name, box, header_hint(value)))
        else:
            plain[name] = value
    if size > HEADERS_BYTES_MAX:  # with the stored values kept by null
        message = f"the headers' names and values are {size} bytes; at most {HEADERS_BYTES_MAX}"
        raise FieldErrors([FieldError("headers", FieldErrorCode.TOO_LARGE, message)])
    return {"headers": plain, "sealed_headers": sealed}


def headers_view(destination: Destination) -> dict[str, Any]:
    """``headers`` (sensitive values as their hint) and ``sensitive_headers`` of a read."""
    shown = dict(destination.headers) | {h.name: h.hint for h in destination.sealed_headers}
    return {
        "headers": shown,
        "sensitive_headers": [h.name for h in destination.sealed_headers],
    }


# -- TLS -------------------------------------------------------------------------------


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate of a PEM text; ValueError when there is none or one is bad."""
    certificates = x509.load_pem_x509_certificates(pem.encode())
    if not certificates:
        raise ValueError("no certificate")
    return certificates


def _certificate_rule(pem: str) -> str:
    try:
        load_certificates(pem)
    except ValueError:
        raise RuleError(
            "must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)",
            FieldErrorCode.FORMAT,
        ) from None
    return pem


Pem = Annotated[str, StringConstraints(min_length=1, max_length=PEM_MAX)]
CertificatePem = Annotated[Pem, AfterValidator(_certificate_rule)]


def _public(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


class ClientTlsInput(Body):
    """The client certificate Signet presents to the receiver (mutual TLS)."""

    client_certificate: Annotated[
        CertificatePem,
        Field(description="PEM: the client certificate, then any intermediates"),
    ]
    client_key: Annotated[
        Pem,
        Field(description="PEM: its private key (unencrypted); sealed, never returned"),
    ]
    ca_certificate: Annotated[
        CertificatePem | None,
        Field(
            description="PEM: the only CA the receiver's certificate may chain to (a private "
            "CA); null: the usual public roots"
        ),
    ] = None

    @field_validator("client_key")
    @classmethod
    def _key_of_certificate(cls, pem: str, info: ValidationInfo) -> str:
        try:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError):
            raise RuleError(
                "must be an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)",
                FieldErrorCode.FORMAT,
            ) from None
        if "client_certificate" not in info.data:
            return pem  # the certificate says what is wrong with it
        leaf = load_certificates(info.data["client_certificate"])[0]
        if _public(key.public_key()) != _public(leaf.public_key()):
            raise RuleError("does not match client_certificate", FieldErrorCode.INVALID)
        return pem


def client_tls(
    ring: MasterKeyRing, workspace_id: str, destination_id: str, body: ClientTlsInput
) -> ClientTls:
    """The record of a validated ``tls`` body: the key sealed, the certificate described."""
    leaf = load_certificates(body.client_certificate)[0]
    sha256 = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
    not_after = leaf.not_valid_after_utc.astimezone(UTC)
    return ClientTls(
        certificate=body.client_certificate,
        sealed_key=ring.seal(
            body.client_key.encode(), client_key_aad(workspace_id, destination_id)
        ),
        subject=leaf.subject.rfc4514_string(),
        sha256=sha256,
        not_after=int(not_after.timestamp() * 1000),
        ca_certificate=body.ca_certificate,
    )
