"""One attempt: sign a delivery for its destination and send it, in a client span.

The request is signed when it is made (so its timestamp is fresh when it leaves), with the
destination's secrets, custom headers and client certificate as they are now; what was
sent is recorded with sensitive values masked. ``pipeline.py`` decides whether to attempt
and what follows.
"""

from __future__ import annotations

import dataclasses
import ssl
import time
from dataclasses import dataclass
from typing import Protocol

from signet_sdk.ids import now_ms
from signet_sdk.signing import SigningError, sign_delivery

from services.dispatcher.breaker import Decision
from services.dispatcher.request_extras import RequestExtras
from services.dispatcher.results import AttemptResult, circuit_open, signing_failed
from services.dispatcher.signing_keys import SigningKeys
from signet import tracing
from signet.errors import SecretError
from signet.operator_webhook.events import is_operational
from signet.records.model import Delivery, Destination, WorkspaceConfig


class AttemptSender(Protocol):
    async def send(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        timeout_seconds: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> AttemptResult: ...


# Whatever a destination asks for: a request holds a slot and delays a graceful stop.
MIN_TIMEOUT_SECONDS = 1.0
MAX_TIMEOUT_SECONDS = 60.0


def span_attributes(delivery: Delivery) -> dict[str, str | int]:
    """An attempt span's own attributes, beside the HTTP ones."""
    attributes: dict[str, str | int] = {
        "signet.delivery.id": delivery.id,
        "signet.event.id": delivery.event_id,
        "signet.destination.id": delivery.destination_id,
        "signet.attempt": delivery.attempt,
    }
    if delivery.attempt > 1:
        attributes["http.request.resend_count"] = delivery.attempt - 1
    return attributes


@dataclass(slots=True, frozen=True)
class Attempt:
    """What one attempt came to, and what the outcome records of it."""

    result: AttemptResult
    url: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    attempted_at: int | None = None
    retry_floor_seconds: float | None = None  # an open circuit: not before the next probe


def blocked(destination: Destination, decision: Decision) -> Attempt:
    """An attempt the open circuit stopped: counted, nothing sent."""
    return Attempt(
        circuit_open(decision.failures, decision.retry_in_seconds),
        url=destination.url,
        attempted_at=now_ms(),
        retry_floor_seconds=decision.retry_in_seconds,
    )


class SignedSender:
    """Signs and sends one attempt (``operator_sender``: the one for the operator's own
    webhook, which may be in-cluster and so skips the SSRF guard)."""

    def __init__(
        self,
        *,
        keys: SigningKeys,
        sender: AttemptSender,
        extras: RequestExtras,
        default_timeout_seconds: float,
        operator_sender: AttemptSender | None = None,
    ) -> None:
        self._keys = keys
        self._sender = sender
        self._extras = extras
        self._default_timeout = default_timeout_seconds
        self._operator_sender = operator_sender

    async def attempt(
        self, config: WorkspaceConfig, destination: Destination, delivery: Delivery
    ) -> Attempt:
        """Sign and send, holding the destination's slot (signed now, so the timestamp is
        fresh when the request leaves)."""
        url = destination.url or ""
        timeout = destination.timeout_seconds or self._default_timeout
        timeout = min(max(timeout, MIN_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS)
        try:
            secrets = self._keys.for_destination(config.workspace_id, destination, now_ms())
            extras = self._extras.for_destination(config.workspace_id, destination)
            signed = sign_delivery(
                destination.signature_scheme,
                secrets,
                msg_id=delivery.event_id,
                timestamp=int(time.time()),
                body=delivery.body,
                signature_header=destination.signature_header,
            )
        except (SecretError, SigningError) as exc:
            return Attempt(signing_failed(f"cannot sign: {exc}"), url=url)
        except ssl.SSLError as exc:  # a stored client certificate that does not load
            return Attempt(signing_failed(f"cannot load the client certificate: {exc}"), url=url)
        attempted_at = now_ms()
        # The operator's own backend may be in-cluster: its sender skips the SSRF guard.
        operator = self._operator_sender if is_operational(config.workspace_id) else None
        sender = operator if operator is not None else self._sender
        # The destination's own headers first: the signature's names are reserved anyway.
        headers = {**extras.headers, **signed}
        tls = {} if extras.ssl_context is None else {"ssl_context": extras.ssl_context}
        with tracing.http_client_span("POST", url, span_attributes(delivery)) as traced:
            # This attempt's span as the receiver's parent: it can join the trace.
            span, trace_headers = traced
            headers.update(trace_headers)
            result = await sender.send(url, delivery.body, headers, timeout_seconds=timeout, **tls)
            tracing.end_http_client_span(span, result.http_status, result.error_kind)
        # Recorded with sensitive values masked (outcomes, the delivery log, its chain).
        shown = {**extras.shown, **signed, **trace_headers}
        return Attempt(result, url=url, headers=shown, attempted_at=attempted_at)
