"""A webhook receiver with nothing but the standard library (WSGI): Flask, Django and
every other WSGI framework hand you the same two things, the headers and the raw body.

    python examples/receiver_wsgi.py --secret whsec_… --port 9000
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server

from signet_sdk.verify import InMemoryReplayCache, ReplayError, SignatureError, WebhookVerifier

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def headers_of(environ: dict[str, Any]) -> dict[str, str]:
    """WSGI keeps headers as HTTP_WEBHOOK_ID …; give them back their names."""
    return {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }


def make_app(
    verifier: WebhookVerifier,
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        try:
            webhook = verifier.verify(headers_of(environ), body)
        except ReplayError:
            start_response("200 OK", [("content-type", "text/plain")])
            return [b"already processed"]
        except SignatureError as exc:
            start_response("400 Bad Request", [("content-type", "text/plain")])
            return [f"refused: {exc}".encode()]
        event = webhook.event
        print(f"{event['type']} {event['id']}: {event['data']}")
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"ok"]

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Receive and verify Signet webhooks (WSGI).")
    parser.add_argument("--secret", required=True, nargs="+", help="the destination's secret(s)")
    parser.add_argument("--scheme", default="standard-webhooks")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    verifier = WebhookVerifier(args.secret, scheme=args.scheme, replay_cache=InMemoryReplayCache())
    with make_server("127.0.0.1", args.port, make_app(verifier)) as server:
        print(f"listening on http://127.0.0.1:{args.port}/")
        server.serve_forever()


if __name__ == "__main__":
    main()
