"""The ranges README.md and docs/*.md state, each with the code it describes.

:data:`RANGES` maps each documented phrase (a file and a regex whose groups are the
stated bounds) to the code it describes, imported here: a portal constant such as
``TIMEOUT_RANGE``, a signing limit, a setting's default.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from signet_sdk.client import MAX_BULK_EVENTS
from signet_sdk.contract.events import EVENT_TYPE_MAX_CHARS, IDEMPOTENCY_KEY_MAX_CHARS
from signet_sdk.retry_after import MAX_RETRY_AFTER_SECONDS
from signet_sdk.signing.hmac_sha256 import MAX_SECRET_CHARS, MIN_SECRET_CHARS
from signet_sdk.signing.standard_webhooks import KEY_SIZES

from bench.soak_load import GIVE_UP_SECONDS
from bench.soak_load import MAX_IN_FLIGHT as SOAK_MAX_IN_FLIGHT
from services.dispatcher.app import RATE_WAIT_SECONDS
from services.dispatcher.metrics import END_TO_END_BUCKETS
from services.portal.destination_fields import MAX_ATTEMPTS_RANGE, RATE_LIMIT_RANGE, TIMEOUT_RANGE
from services.portal.event_type_bodies import MAX_IMPORT_BYTES
from services.portal.headers_tls import CERTIFICATE_WARNING_DAYS, HEADERS_BYTES_MAX, HEADERS_MAX
from services.portal.idempotency import IDEMPOTENCY_KEY_TTL_HOURS
from services.portal.replay import LOG_CATCH_UP_SECONDS
from services.portal.rotation import MAX_OVERLAP_SECONDS
from services.portal.signature_header import SIGNATURE_HEADER_MAX
from signet.catalog.json_schema import MAX_REPORTED_ERRORS
from signet.kafka.topics import BATCHING_FETCH, RETRY_TIERS_SECONDS
from signet.records.model import MAX_LOG_RETENTION_DAYS, MIN_LOG_RETENTION_DAYS
from signet.security.secrets import HEADER_HINT_MIN_LEN
from signet.settings import CommonSettings, DispatcherSettings, IngestSettings
from tests.docs.doc_text import NUMBER, Document
from tests.docs.settings_index import numeric_default

DASH = "\u2013"  # the en dash the docs write ranges with
JITTER = numeric_default(DispatcherSettings, "retry_jitter")


@dataclass(slots=True, frozen=True)
class Range:
    """A documented range (or bound) and the code it is checked against.

    ``pattern``'s groups are the stated values, each a quantity ("30 s", "4 MiB", "0.001")
    compared in base units (seconds, bytes, counts) with ``code``; ``constant`` names what
    ``code`` was read from. ``text``: the phrase is in a code block (an example error
    message), so it is looked for in the whole text, not the prose."""

    doc: str
    pattern: str
    code: tuple[float, ...]
    constant: str
    text: bool = False


RANGES: tuple[Range, ...] = (
    # The largest OpenAPI document an event-type import takes (portal event_type_bodies.py).
    Range(
        "docs/workspace-api.md",
        rf"at most ({NUMBER} MiB) in all\), and `dry_run`",
        (MAX_IMPORT_BYTES,),
        "services.portal.event_type_bodies.MAX_IMPORT_BYTES",
    ),
    # A destination's own name for its signature header (services/portal/signature_header.py).
    Range(
        "docs/receiving-webhooks.md",
        rf"an HTTP token of at most ({NUMBER}) characters",
        (SIGNATURE_HEADER_MAX,),
        "services.portal.signature_header.SIGNATURE_HEADER_MAX",
    ),
    Range(
        "docs/workspace-api.md",
        rf"An HTTP token of at most ({NUMBER}) characters",
        (SIGNATURE_HEADER_MAX,),
        "services.portal.signature_header.SIGNATURE_HEADER_MAX",
    ),
    # How long the portal keeps a create's Idempotency-Key (services/portal/idempotency.py).
    Range(
        "docs/workspace-api.md",
        rf"within\s+({NUMBER} hours) the same request with the same key",
        (IDEMPOTENCY_KEY_TTL_HOURS * 3600,),
        "services.portal.idempotency.IDEMPOTENCY_KEY_TTL_HOURS",
    ),
    Range(
        "docs/operations.md",
        rf"rows deleted after ({NUMBER} hours)",
        (IDEMPOTENCY_KEY_TTL_HOURS * 3600,),
        "services.portal.idempotency.IDEMPOTENCY_KEY_TTL_HOURS",
    ),
    Range(
        "docs/workspace-api.md",
        rf"`Idempotency-Key` header \(({NUMBER}) to ({NUMBER}) visible",
        (1, IDEMPOTENCY_KEY_MAX_CHARS),
        "1 and signet_sdk.contract.events.IDEMPOTENCY_KEY_MAX_CHARS",
    ),
    # A workspace's own delivery-log retention (signet/records/model.py).
    Range(
        "docs/workspace-api.md",
        rf"whole number of days from ({NUMBER}) to\s+({NUMBER})",
        (MIN_LOG_RETENTION_DAYS, MAX_LOG_RETENTION_DAYS),
        "signet.records.model.MIN_LOG_RETENTION_DAYS, MAX_LOG_RETENTION_DAYS",
    ),
    # The portal's request limits (services/portal/destinations.py, rotation.py).
    Range(
        "docs/delivery.md",
        rf"`timeout_seconds` \(({NUMBER}){DASH}({NUMBER} s)\)",
        TIMEOUT_RANGE,
        "services.portal.destination_fields.TIMEOUT_RANGE",
    ),
    Range(
        "docs/delivery.md",
        rf"`rate_limit_per_second` \(({NUMBER}) to ({NUMBER});",
        RATE_LIMIT_RANGE,
        "services.portal.destination_fields.RATE_LIMIT_RANGE",
    ),
    Range(
        "docs/workspace-api.md",
        rf"`rate_limit_per_second` \(optional, ({NUMBER}) to ({NUMBER});",
        RATE_LIMIT_RANGE,
        "services.portal.destination_fields.RATE_LIMIT_RANGE",
    ),
    Range(
        "docs/workspace-api.md",
        rf"`overlap_seconds` \(({NUMBER}){DASH}({NUMBER}),",
        (0, MAX_OVERLAP_SECONDS),
        "0 and services.portal.rotation.MAX_OVERLAP_SECONDS",
    ),
    Range(
        "docs/workspace-api.md",
        rf'"retry_policy\.max_attempts",[^}}]*?"message": "must be [^"]*?({NUMBER})"',
        MAX_ATTEMPTS_RANGE[1:],
        "services.portal.destination_fields.MAX_ATTEMPTS_RANGE (its upper bound)",
        text=True,
    ),
    # How long a replay or recover waits for the log to record a body (portal replay.py).
    Range(
        "docs/workspace-api.md",
        rf"the replay waits for it,\s+up to ({NUMBER} s)",
        (LOG_CATCH_UP_SECONDS,),
        "services.portal.replay.LOG_CATCH_UP_SECONDS",
    ),
    Range(
        "docs/workspace-api.md",
        rf"is waited for first,\s+up to ({NUMBER} s)",
        (LOG_CATCH_UP_SECONDS,),
        "services.portal.replay.LOG_CATCH_UP_SECONDS",
    ),
    # A destination's custom headers and client certificate (services/portal/headers_tls.py).
    Range(
        "docs/delivery.md",
        rf"At most ({NUMBER}) headers and ({NUMBER} KiB) of names and values",
        (HEADERS_MAX, HEADERS_BYTES_MAX),
        "services.portal.headers_tls.HEADERS_MAX, HEADERS_BYTES_MAX",
    ),
    Range(
        "docs/workspace-api.md",
        rf"at most ({NUMBER}) headers and ({NUMBER} KiB) in all",
        (HEADERS_MAX, HEADERS_BYTES_MAX),
        "services.portal.headers_tls.HEADERS_MAX, HEADERS_BYTES_MAX",
    ),
    Range(
        "docs/delivery.md",
        rf"a value shorter than ({NUMBER}) characters",
        (HEADER_HINT_MIN_LEN,),
        "signet.security.secrets.HEADER_HINT_MIN_LEN",
    ),
    Range(
        "docs/delivery.md",
        rf"a certificate within ({NUMBER}) days of expiry",
        (CERTIFICATE_WARNING_DAYS,),
        "services.portal.headers_tls.CERTIFICATE_WARNING_DAYS",
    ),
    # Secrets a destination may bring (signet/sdk/signing/).
    Range(
        "docs/receiving-webhooks.md",
        rf"after base64-decoding \(({NUMBER}){DASH}({NUMBER} bytes)\)",
        KEY_SIZES,
        "signet_sdk.signing.standard_webhooks.KEY_SIZES",
    ),
    Range(
        "docs/receiving-webhooks.md",
        rf"used whole \(({NUMBER}){DASH}({NUMBER}) characters\)",
        (MIN_SECRET_CHARS, MAX_SECRET_CHARS),
        "signet_sdk.signing.hmac_sha256.MIN_SECRET_CHARS, MAX_SECRET_CHARS",
    ),
    # The dispatcher's timing.
    Range(
        "docs/delivery.md",
        rf"in memory when the slot is at most ({NUMBER} s) away",
        (RATE_WAIT_SECONDS,),
        "services.dispatcher.app.RATE_WAIT_SECONDS",
    ),
    Range(
        "docs/delivery.md",
        r"the delay is clamped to \[the schedule's delay, (\d+ h)\]",
        (MAX_RETRY_AFTER_SECONDS,),
        "signet_sdk.retry_after.MAX_RETRY_AFTER_SECONDS",
    ),
    Range(
        "docs/delivery.md",
        rf"late by up to two smallest tiers \(({NUMBER} s)\)",
        (2 * RETRY_TIERS_SECONDS[0],),
        "2 * signet.kafka.topics.RETRY_TIERS_SECONDS[0]",
    ),
    Range(
        "docs/delivery.md",
        rf"times a random factor in \[({NUMBER}), ({NUMBER})\]",
        (1 - JITTER, 1 + JITTER),
        "1 ± DispatcherSettings.retry_jitter (default)",
    ),
    Range(
        "docs/delivery.md",
        rf"^\| delay \(±({NUMBER} %)\)",
        (JITTER,),
        "DispatcherSettings.retry_jitter (default)",
    ),
    Range(
        "docs/delivery.md",
        rf"first delay \({NUMBER} s ±({NUMBER} %)\)",
        (JITTER,),
        "DispatcherSettings.retry_jitter (default)",
    ),
    Range(
        "docs/receiving-webhooks.md",
        rf"12 h and 12 h \(±({NUMBER} %)\)",
        (JITTER,),
        "DispatcherSettings.retry_jitter (default)",
    ),
    Range(
        "docs/operations.md",
        rf"Buckets from ({NUMBER} ms) to ({NUMBER} h)",
        (END_TO_END_BUCKETS[0], END_TO_END_BUCKETS[-1]),
        "services.dispatcher.metrics.END_TO_END_BUCKETS (first and last)",
    ),
    # What one request, one consumer, one client may hold.
    Range(
        "docs/getting-started.md",
        rf"`emit_bulk` sends up to ({NUMBER}) events a request",
        (MAX_BULK_EVENTS,),
        "signet_sdk.client.MAX_BULK_EVENTS",
    ),
    Range(
        "docs/getting-started.md",
        rf"`emit_bulk` sends up to ({NUMBER}) events a request",
        (numeric_default(IngestSettings, "max_bulk_events"),),
        "IngestSettings.max_bulk_events (default)",
    ),
    Range(
        "docs/benchmarks.md",
        rf"fetches at most ({NUMBER} MiB) ahead",
        (1024 * numeric_default(CommonSettings, "consumer_prefetch_kbytes"),),
        "CommonSettings.consumer_prefetch_kbytes (default)",
    ),
    Range(
        "docs/benchmarks.md",
        rf"log and alerts may trail a delivery by up to ({NUMBER} ms)",
        (BATCHING_FETCH["fetch.wait.max.ms"] / 1000,),
        'signet.kafka.topics.BATCHING_FETCH["fetch.wait.max.ms"]',
    ),
    Range(
        "docs/benchmarks.md",
        rf"wait for ({NUMBER} KiB) or {NUMBER} ms per fetch",
        (BATCHING_FETCH["fetch.min.bytes"],),
        'signet.kafka.topics.BATCHING_FETCH["fetch.min.bytes"]',
    ),
    Range(
        "docs/benchmarks.md",
        rf"one request every {NUMBER} ms, at most ({NUMBER}) in flight",
        (SOAK_MAX_IN_FLIGHT,),
        "bench.soak_load.MAX_IN_FLIGHT",
    ),
    Range(
        "docs/benchmarks.md",
        rf"\(for up to ({NUMBER} s), then the event counts as given up\)",
        (GIVE_UP_SECONDS,),
        "bench.soak_load.GIVE_UP_SECONDS",
    ),
    Range(
        "docs/benchmarks.md",
        rf"holds up to ({NUMBER}) deliveries\s+waiting",
        (numeric_default(DispatcherSettings, "max_pending"),),
        "DispatcherSettings.max_pending (default)",
    ),
    # The event-type catalog (docs/event-types.md).
    Range(
        "docs/event-types.md",
        rf"at most ({NUMBER}) characters, and `signet\.\*`",
        (EVENT_TYPE_MAX_CHARS,),
        "signet_sdk.contract.events.EVENT_TYPE_MAX_CHARS",
    ),
    Range(
        "docs/event-types.md",
        rf"At most\s+({NUMBER}) violations are listed",
        (MAX_REPORTED_ERRORS,),
        "signet.catalog.json_schema.MAX_REPORTED_ERRORS",
    ),
)


def spans(doc: Document, pattern: str, *, text: bool = False) -> Iterator[re.Match[str]]:
    return re.finditer(pattern, doc.text if text else doc.prose, re.M)
