"""A webhook destination's ``signature_header``: the name its signature is sent under.

A product moving its webhooks to Signet has receivers that already check a signature under
a header of its own (``X-Acme-Signature: sha256=<hex>``, or Stripe's ``t=…,v1=…`` format
under ``Acme-Signature``). Those receivers keep their code if the destination sends the
``github`` or the ``hmac-sha256``/``hmac-sha512`` value under that name. Only those
one-header schemes may rename it: Standard Webhooks' headers are fixed by its
specification, which its libraries (and Svix's) read.

The name is an RFC 9110 token of at most :data:`SIGNATURE_HEADER_MAX` characters, stored
in lower case; not a header Signet or the HTTP client sets (the custom headers' reserved
names), and not one of the destination's own custom headers. The scheme's own name is the
default: given, it is stored as null. Checked on the destination as it will be stored, so
a PATCH of the name alone is judged with the stored scheme and headers.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors, RuleError
from signet_sdk.signing import SCHEMES

from services.portal.headers_tls import TOKEN, reserved_header
from signet.records.model import Destination, DestinationType

SIGNATURE_HEADER_MAX = 64
FIELD = "signature_header"
# The schemes whose signature travels in one header, and that header's own name.
RENAMABLE = {
    spec.scheme.value: spec.signature_header
    for spec in SCHEMES.values()
    if spec.signature_header is not None
}


def _check_name(name: str) -> str:
    if not TOKEN.fullmatch(name) or len(name) > SIGNATURE_HEADER_MAX:
        raise RuleError(
            f"{name!r} is not a header name (an RFC 9110 token of at most "
            f"{SIGNATURE_HEADER_MAX} characters)",
            FieldErrorCode.FORMAT,
        )
    return name.lower()


SignatureHeader = Annotated[
    str,
    AfterValidator(_check_name),
    Field(
        description="github, hmac-sha256 and hmac-sha512 only: the header the signature is "
        "sent in instead of the scheme's own (x-hub-signature-256, signet-signature), for "
        "receivers that already read another name; stored in lower case. null: the "
        "scheme's own",
        examples=["x-acme-signature"],
    ),
]


def stored_name(destination: Destination) -> str | None:
    """The name as it is stored: the scheme's own is the default, kept as null."""
    name = destination.signature_header
    if name is not None and RENAMABLE.get(destination.signature_scheme) == name.lower():
        return None
    return name


def check_signature_header(destination: Destination) -> None:
    """FieldErrors when the destination's ``signature_header`` cannot be sent as asked."""
    name = destination.signature_header
    if name is None or destination.type != DestinationType.WEBHOOK.value:
        return
    own = RENAMABLE.get(destination.signature_scheme)
    if own is None:  # standard-webhooks, standard-webhooks-ed25519
        message = (
            f"the {destination.signature_scheme} scheme's headers are fixed by the Standard "
            "Webhooks specification (its libraries, and Svix's, read them); only "
            f"{', '.join(sorted(RENAMABLE))} send their signature under another name"
        )
        raise FieldErrors([FieldError(FIELD, FieldErrorCode.INVALID, message)])
    if reserved_header(name):  # the scheme's own name was stored as null (stored_name)
        raise FieldErrors(
            [FieldError(FIELD, FieldErrorCode.RESERVED, f"{name!r} is set by Signet")]
        )
    own_headers = {n.lower() for n in destination.headers}
    own_headers |= {h.name.lower() for h in destination.sealed_headers}
    if name in own_headers:
        raise FieldErrors(
            [
                FieldError(
                    FIELD,
                    FieldErrorCode.CONFLICT,
                    f"{name!r} is also one of the destination's headers",
                )
            ]
        )
