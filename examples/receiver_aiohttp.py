"""A webhook receiver in aiohttp that verifies every request Signet sends it.

    python examples/receiver_aiohttp.py --secret whsec_… --port 9000
    python examples/receiver_aiohttp.py --secret 'my-hmac-secret' --scheme hmac-sha256

Verify the raw body before parsing it, refuse what does not verify (400), answer 2xx to a
duplicate without processing it again, and release the id when processing fails so
Signet's retry is not mistaken for a replay.
"""

from __future__ import annotations

import argparse
from typing import Any

from aiohttp import web
from signet_sdk.verify import InMemoryReplayCache, ReplayError, SignatureError, WebhookVerifier

VERIFIER: web.AppKey[WebhookVerifier] = web.AppKey("verifier", WebhookVerifier)


def process(event: dict[str, Any]) -> None:
    """Your business logic; raising makes Signet retry the delivery later."""
    print(f"verified {event['type']} {event['id']} for {event['resource']} {event['resource_id']}")


async def receive(request: web.Request) -> web.Response:
    verifier = request.app[VERIFIER]
    body = await request.read()  # the exact bytes that were signed
    try:
        webhook = verifier.verify(request.headers, body)
    except ReplayError:
        return web.Response(text="already processed")
    except SignatureError as exc:
        return web.Response(status=400, text=f"refused: {exc}")
    try:
        process(webhook.event)
    except Exception:
        verifier.release(webhook.id)
        raise  # a 500: Signet retries with the same webhook-id
    return web.Response(text="ok")


def build_app(verifier: WebhookVerifier) -> web.Application:
    app = web.Application()
    app[VERIFIER] = verifier
    app.router.add_post("/hook", receive)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Receive and verify Signet webhooks.")
    parser.add_argument("--secret", required=True, help="the destination's secret(s)", nargs="+")
    parser.add_argument("--scheme", default="standard-webhooks")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    verifier = WebhookVerifier(args.secret, scheme=args.scheme, replay_cache=InMemoryReplayCache())
    web.run_app(build_app(verifier), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
