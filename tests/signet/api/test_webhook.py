"""signet.api.webhook: the documented body and headers are what a receiver really gets —
the body from the renderer every delivery uses, the headers from every signature scheme."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
import pytest
from jsonschema import Draft202012Validator
from signet_sdk.signing import generate_secret, sign_delivery

from services.dispatcher.sender import USER_AGENT, Sender
from signet.api.webhook import WebhookBody, WebhookHeaders
from signet.records.model import Event, SignatureScheme
from signet.records.payload import render_body
from signet.security.ssrf import DestinationGuard, DestinationPolicy
from tests.receiver import Receiver

MakeReceiver = Callable[[], Awaitable[Receiver]]

EVENT = Event(
    id="evt_01JS3Z8M2V4K6QF0YB7W9T1NXA",
    workspace_id="ws_01JS3Z8M2V4K6QF0YB7W9T1NXB",
    type="order.completed",
    resource="order",
    resource_id="ord_77",
    payload=b'{"total_cents":1999,"items":[{"sku":"a"}]}',
    created_at=1_776_450_120_123,
)


def test_the_rendered_body_is_a_webhook_body() -> None:
    body = orjson.loads(render_body(EVENT))
    parsed = WebhookBody.model_validate(body)
    assert parsed.model_dump() == body  # every field it sends, and nothing else
    schema = WebhookBody.model_json_schema(mode="serialization")
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(body)
    assert set(schema["required"]) == set(body)


def test_a_body_with_a_field_the_renderer_lacks_is_not_one() -> None:
    body = {**orjson.loads(render_body(EVENT)), "extra": 1}
    schema = WebhookBody.model_json_schema(mode="serialization")
    assert not Draft202012Validator(schema).is_valid(body)


@pytest.mark.parametrize("scheme", list(SignatureScheme))
def test_every_scheme_signs_with_documented_headers(scheme: SignatureScheme) -> None:
    secret = generate_secret(scheme.value).secret
    headers = sign_delivery(scheme.value, [secret], EVENT.id, 1_776_450_120, render_body(EVENT))
    parsed = WebhookHeaders.model_validate(headers)
    documented = {
        field.alias for field in WebhookHeaders.model_fields.values() if field.alias is not None
    }
    assert set(headers) <= documented, f"{scheme} sends headers the document does not name"
    assert parsed.webhook_id == EVENT.id


# Added by aiohttp's client to any request, not Signet's own: the model allows them.
TRANSPORT = {"host", "content-type", "content-length", "accept", "accept-encoding"}


@pytest.mark.parametrize("scheme", list(SignatureScheme))
async def test_a_delivery_carries_only_documented_headers(
    scheme: SignatureScheme, make_receiver: MakeReceiver
) -> None:
    """What the dispatcher's sender really puts on the wire, signed by the real scheme."""
    receiver = await make_receiver()
    body = render_body(EVENT)
    secret = generate_secret(scheme.value).secret
    signed = sign_delivery(scheme.value, [secret], EVENT.id, 1_776_450_120, body)
    policy = DestinationPolicy(allow_insecure=True, allow_private=True)
    async with Sender(
        DestinationGuard(policy), connect_timeout_seconds=2, excerpt_bytes=64
    ) as sender:
        result = await sender.send(receiver.url, body, signed, timeout_seconds=5)
    assert result.http_status == 200, result
    [request] = receiver.requests
    received = {name.lower(): value for name, value in request.headers.items()}
    parsed = WebhookHeaders.model_validate(received)
    documented = {f.alias for f in WebhookHeaders.model_fields.values() if f.alias is not None}
    assert set(received) - TRANSPORT <= documented
    assert parsed.webhook_id == EVENT.id
    assert parsed.user_agent == USER_AGENT
    assert WebhookBody.model_validate_json(request.body).id == EVENT.id
