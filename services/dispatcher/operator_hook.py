"""The operator's webhook, as far as the dispatcher is concerned.

Two roles (docs/operations.md, "Operational webhooks"):

- **Sending** operational deliveries (``signet/operator_webhook/events.py``): a delivery
  addressed to the reserved operator workspace goes to the webhook configured *now*
  (:meth:`OperatorHook.find`), signed with its secret by the Standard Webhooks signer,
  through a sender of its own whose guard lets private and in-cluster addresses through:
  it is the operator's own backend. It still leaves through the egress proxy when one is
  set (``SIGNET_EGRESS_PROXY_URL``), like every post. Customer destinations keep the SSRF
  guard. Retries
  take the delay tiers like every delivery; endpoint health never disables it.
- **Announcing** what only the dispatcher knows (:meth:`OperatorHook.announce`): a
  delivery that gave up (``delivery.exhausted``, derived from the delivery id) and a
  destination that delivers again after failing (``delivery.recovered``, derived from the
  destination and the start of its failure streak). Produced and acknowledged before the
  outcome that completes the delivery's offset, so a redo after a crash produces the same
  record again, never a lost one.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from services.dispatcher.errors import DestinationUnavailable
from signet.backoff import retry_until_done
from signet.errors import BrokerError
from signet.kafka.clients import AsyncProducer
from signet.operator_webhook.events import (
    OPERATOR_DESTINATION_ID,
    OPERATOR_WORKSPACE_ID,
    OperationalEvent,
    operational_delivery,
)
from signet.operator_webhook.view import OperatorWebhookView
from signet.records import codec
from signet.records.model import (
    Delivery,
    Destination,
    DestinationType,
    SignatureScheme,
    SigningSecret,
    WorkspaceConfig,
)
from signet.records.payload import iso_utc_ms

if TYPE_CHECKING:
    from services.dispatcher.attempt import AttemptSender

logger = logging.getLogger(__name__)

# The operator "workspace" the signing keys are opened under (its AAD is the operator's).
_OPERATOR = WorkspaceConfig(
    workspace_id=OPERATOR_WORKSPACE_ID,
    version=0,
    name="operator",
    environment="production",
    created_at=0,
    updated_at=0,
)


class OperatorHook:
    def __init__(
        self,
        view: OperatorWebhookView,
        sender: AttemptSender,
        producer: AsyncProducer,
        deliveries_topic: str,
    ) -> None:
        self._view = view
        self.sender = sender
        self._producer = producer
        self._topic = deliveries_topic

    def find(self, delivery: Delivery) -> tuple[WorkspaceConfig, Destination]:
        """The operator's webhook as a destination; DestinationUnavailable when it was
        removed or no longer takes this event type (the delivery ends, not retried)."""
        hook = self._view.current
        if hook is None:
            raise DestinationUnavailable("no operator webhook is set")
        if delivery.event_type not in hook.event_types:
            raise DestinationUnavailable(
                f"the operator webhook no longer takes {delivery.event_type}"
            )
        return _OPERATOR, Destination(
            id=OPERATOR_DESTINATION_ID,
            type=DestinationType.WEBHOOK.value,
            name="operator webhook",
            created_at=hook.created_at,
            updated_at=hook.updated_at,
            url=hook.url,
            event_types=list(hook.event_types),
            signature_scheme=SignatureScheme.STANDARD_WEBHOOKS.value,
            secrets=[
                SigningSecret(
                    id=hook.id,
                    sealed=hook.secret,
                    hint=hook.secret_hint,
                    created_at=hook.created_at,
                )
            ],
        )

    async def exhausted(self, delivery: Delivery, *, at_ms: int, **data: Any) -> None:
        """``delivery.exhausted``: ``delivery`` gave up. One per delivery."""
        await self._announce(
            OperationalEvent.DELIVERY_EXHAUSTED,
            delivery,
            cause=(delivery.id,),
            # The last attempt's due time: the same in a redo of that attempt.
            cause_at_ms=delivery.due_at,
            at_ms=at_ms,
            data={
                "delivery_id": delivery.id,
                "event_id": delivery.event_id,
                "event_type": delivery.event_type,
                "attempts": delivery.attempt,
                **data,
            },
        )

    async def recovered(self, delivery: Delivery, *, failing_since: int, at_ms: int) -> None:
        """``delivery.recovered``: the destination delivered again; one per failure streak."""
        await self._announce(
            OperationalEvent.DELIVERY_RECOVERED,
            delivery,
            cause=(delivery.destination_id, str(failing_since)),
            cause_at_ms=failing_since,
            at_ms=at_ms,
            data={"failing_since": iso_utc_ms(failing_since), "delivery_id": delivery.id},
        )

    async def _announce(
        self,
        kind: OperationalEvent,
        delivery: Delivery,
        *,
        cause: tuple[str, ...],
        cause_at_ms: int,
        at_ms: int,
        data: dict[str, Any],
    ) -> None:
        if not self._view.wants(kind.value):
            return
        record = operational_delivery(
            kind,
            cause=cause,
            cause_at_ms=cause_at_ms,
            at_ms=at_ms,
            workspace_id=delivery.workspace_id,
            destination_id=delivery.destination_id,
            data=data,
        )
        send = partial(
            self._producer.send, self._topic, codec.encode(record), key=record.destination_id
        )
        await retry_until_done(
            send,
            retry_on=BrokerError,
            on_retry=lambda exc, _: logger.warning(
                "operational event %s not acknowledged (%s); retrying", record.event_id, exc
            ),
        )
