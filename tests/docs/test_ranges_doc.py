"""Every range README.md and docs/*.md state is the code's, and none is added unchecked.

:data:`RANGES` maps each documented phrase (a file and a regex whose groups are the
stated bounds) to the code it describes, imported here: a portal constant such as
``TIMEOUT_RANGE``, a signing limit, a setting's default. The phrase must still be there
and say the code's numbers (units converted: "30 s", "64 KiB").

The catch-all reads every range-like phrase of the prose ("1\N{EN DASH}30 s", "0.001 to 10000",
"between 1 and 50", "at most 20", "up to 500", "±20 %", "[0.8, 1.2]") and fails for one
that no entry of :data:`RANGES` reads and :data:`NOT_CODE` does not explain (a
measurement, advice, an estimate). Code blocks (commands, sample output), dates and the
measured results of docs/benchmarks.md (:data:`RESULTS`) are not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from signet_sdk.client import MAX_BULK_EVENTS
from signet_sdk.contract.events import EVENT_TYPE_MAX_CHARS
from signet_sdk.retry_after import MAX_RETRY_AFTER_SECONDS
from signet_sdk.signing.hmac_sha256 import MAX_SECRET_CHARS, MIN_SECRET_CHARS
from signet_sdk.signing.standard_webhooks import KEY_SIZES

from bench.soak_load import GIVE_UP_SECONDS
from bench.soak_load import MAX_IN_FLIGHT as SOAK_MAX_IN_FLIGHT
from services.dispatcher.app import RATE_WAIT_SECONDS
from services.dispatcher.metrics import END_TO_END_BUCKETS
from services.portal.destination_fields import (
    MAX_ATTEMPTS_RANGE,
    RATE_LIMIT_RANGE,
    TIMEOUT_RANGE,
)
from services.portal.headers_tls import (
    CERTIFICATE_WARNING_DAYS,
    HEADERS_BYTES_MAX,
    HEADERS_MAX,
)
from services.portal.replay import LOG_CATCH_UP_SECONDS
from services.portal.rotation import MAX_OVERLAP_SECONDS
from signet.catalog.json_schema import MAX_REPORTED_ERRORS
from signet.kafka.topics import BATCHING_FETCH, RETRY_TIERS_SECONDS
from signet.records.model import MAX_LOG_RETENTION_DAYS, MIN_LOG_RETENTION_DAYS
from signet.security.secrets import HEADER_HINT_MIN_LEN
from signet.settings import CommonSettings, DispatcherSettings, IngestSettings
from tests.docs.doc_text import (
    INLINE_CODE,
    NUMBER,
    UNIT,
    Document,
    document,
    documents,
    quantity,
    same,
)
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

# Range-like phrases that state no range of the code, each with the reason.
NOT_CODE: tuple[tuple[str, str, str], ...] = (
    ("docs/getting-started.md", rf"2{DASH}4 min \(the first", "an estimate of how long it takes"),
    ("docs/operations.md", rf"12{DASH}24 is a good start", "advice on partition counts"),
    ("docs/operations.md", rf"\| alerter \| alerts \| 1{DASH}2;", "advice on replica counts"),
    ("docs/operations.md", rf"measured at 50{DASH}95 µs of CPU", "a measurement"),
    ("docs/operations.md", rf"\| router \| 1\.1{DASH}2\.1 s \|", "a measurement"),
    ("docs/benchmarks.md", r"One run can move by up to 25 %", "a measurement"),
    ("docs/benchmarks.md", r"moved by up to 25 % between two", "a measurement"),
    ("docs/benchmarks.md", rf"about 31{DASH}38 MiB per service", "a measurement"),
    (
        "docs/benchmarks.md",
        r"\(default 10 % of the run, at most 30\)",
        "bench/soak.py's min(30.0, 0.1 * seconds): no constant to import",
    ),
    (
        "docs/delivery.md",
        r"max\(1 s, 10 % of its delay\)",
        "a bound tests/services/dispatcher/test_hold.py asserts, no constant",
    ),
    (
        "docs/delivery.md",
        r'"at most 10 % late"',
        "a bound tests/services/dispatcher/test_hold.py asserts, no constant",
    ),
)
# Measured results: their ranges are what a run gave, not what the code allows.
RESULTS = {
    "docs/benchmarks.md": ("Results", "Goals (issue 7)", "Tried and not kept"),
}

_Q = rf"{NUMBER}(?:[ \u00a0]?(?:{UNIT})(?!\w))?"
RANGE_LIKE = re.compile(
    "|".join(
        (
            rf"{_Q}\s*[{DASH}-]\s*{NUMBER}",  # 1 to 30 s with a dash
            rf"{_Q}\s+to\s+{NUMBER}",  # 0.001 to 10000
            rf"\bbetween\s+{_Q}\s+and\s+{NUMBER}",
            rf"\b(?:at\s+most|at\s+least|up\s+to|no\s+more\s+than)\s+{NUMBER}",
            rf"±\s*{NUMBER}",
            rf"\b(?:max|min)\(\s*{NUMBER}",
            r"\[[^\]\n]*\d[^\]\n]*\](?!\()",  # [0.8, 1.2], [the schedule's delay, 12 h]
        )
    ),
    re.I,
)
DATE = re.compile(r"\b\d{4}-\d{2}(?:-\d{2})?\b")
LINK_TARGET = re.compile(r"\]\([^)\s]*\)")


def blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


def readable(doc: Document) -> str:
    """The prose the catch-all reads: no inline code, link targets, dates, or results."""
    text = INLINE_CODE.sub(blank, doc.prose)
    text = LINK_TARGET.sub(blank, DATE.sub(blank, text))
    for title in RESULTS.get(doc.name, ()):
        start, end = doc.section(title)
        text = text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]
    return text


def spans(doc: Document, pattern: str, *, text: bool = False) -> Iterator[re.Match[str]]:
    return re.finditer(pattern, doc.text if text else doc.prose, re.M)


def test_each_documented_range_is_the_code_s() -> None:
    wrong: list[str] = []
    for entry in RANGES:
        doc = document(entry.doc)
        found = list(spans(doc, entry.pattern, text=entry.text))
        if not found:
            wrong.append(f"{entry.doc}: no longer says /{entry.pattern}/ (update RANGES)")
        for match in found:
            stated = [quantity(group) for group in match.groups()]
            if len(stated) != len(entry.code) or not all(
                same(s.value, float(c)) for s, c in zip(stated, entry.code, strict=False)
            ):
                wrong.append(
                    f"{doc.where(match.start())}: says {match.groups()}, "
                    f"code: {tuple(entry.code)} ({entry.constant})"
                )
    assert not wrong, "\n".join(wrong)


def test_every_range_in_the_docs_is_checked_or_explained() -> None:
    """A range-like phrase no entry of RANGES reads and NOT_CODE does not explain fails:
    a new range cannot reach the docs unchecked."""
    unchecked: list[str] = []
    for doc in documents():
        covered: list[tuple[int, int]] = [
            match.span()
            for entry in RANGES
            if entry.doc == doc.name and not entry.text
            for match in spans(doc, entry.pattern)
        ] + [
            match.span()
            for name, pattern, _ in NOT_CODE
            if name == doc.name
            for match in spans(doc, pattern)
        ]
        for found in RANGE_LIKE.finditer(readable(doc)):
            if not any(start <= found.start() < end for start, end in covered):
                unchecked.append(f"{doc.where(found.start())}: {found.group(0)!r}")
    assert not unchecked, (
        "ranges no test checks (add them to RANGES with the code constant they state, "
        "or to NOT_CODE with the reason):\n" + "\n".join(unchecked)
    )


def test_every_not_code_entry_still_matches() -> None:
    gone = [
        f"{name}: /{pattern}/"
        for name, pattern, _ in NOT_CODE
        if not list(spans(document(name), pattern))
    ]
    assert not gone, "NOT_CODE entries that match nothing any more:\n" + "\n".join(gone)


def test_the_catch_all_sees_each_form_of_range() -> None:
    """The forms the docs use are all caught, and dates, code and link targets are not."""
    seen = [
        m.group(0)
        for m in RANGE_LIKE.finditer(
            f"(1{DASH}30 s) (0.001 to 10000) between 1 and 50, at most 20, up to 500, "
            "±20 % in [0.8, 1.2] max(1 s, 10 %)"
        )
    ]
    assert seen == [
        f"1{DASH}30",
        "0.001 to 10000",
        "between 1 and 50",
        "at most 20",
        "up to 500",
        "±20",
        "[0.8, 1.2]",
        "max(1",
    ], seen
    doc = Document(
        document("docs/delivery.md").path,
        "on 2026-11-27, `1-30`, [a](b.md#1-2)\n```\n1-30\n```\n",
    )
    assert not RANGE_LIKE.search(readable(doc)), readable(doc)
