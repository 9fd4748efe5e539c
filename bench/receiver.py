"""The benchmark receiver: a separate process that verifies every request it gets.

    python -m bench.receiver --port 9100          # prints "ready <port>" once listening

Routes, on loopback only:
- ``POST /hook/{name}``: a delivery. With a key registered for ``name`` the signature is
  verified (:class:`signet_sdk.verify.WebhookVerifier`) and a request that fails is counted
  as ``rejected`` (answered 400); without one (the limit run: no signing) it is counted
  unverified. The body's ``sent_at_ns`` (put there by the load generator, inside ``data``
  for Signet deliveries) gives the emit → receive latency.
- ``POST /keys {"name": "whsec_…"}``: the secrets to verify with.
- ``GET /stats``: counts, arrival times and latencies (all, and per hook name) since the
  last ``POST /reset``.
- ``GET /counts``: only the counts (cheap, to poll), with ``distinct`` event ids (the
  body's ``id``) and ``duplicates`` (requests beyond the first for an id).
- ``GET /ids``: the distinct event ids received since the reset.
- ``GET /wait?count=N&timeout=S``: answers once N requests were accepted (or at S).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson
from aiohttp import web
from signet_sdk.verify import SignatureError, WebhookVerifier


class Tally:
    def __init__(self) -> None:
        self.verifiers: dict[str, WebhookVerifier] = {}
        self.reset()
        self._changed = asyncio.Event()

    def reset(self) -> None:
        self.accepted = 0
        self.verified = 0
        self.rejected = 0
        self.arrivals: list[float] = []  # time.time() of each accepted request
        self.latencies_ms: list[float] = []
        self.by_name: dict[str, int] = {}
        self.latencies_by_name: dict[str, list[float]] = {}
        self.ids: set[str] = set()
        self.duplicates = 0

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time_ns()
        name = request.match_info["name"]
        verifier = self.verifiers.get(name)
        if verifier is not None:
            try:
                verifier.verify(request.headers, body)
            except SignatureError:
                self.rejected += 1
                return web.Response(status=400)
            self.verified += 1
        document = orjson.loads(body)
        event_id = document.get("id")
        if isinstance(event_id, str):
            if event_id in self.ids:
                self.duplicates += 1
            self.ids.add(event_id)
        sent = (document.get("data") or document).get("sent_at_ns")
        if isinstance(sent, int):
            latency = (now - sent) / 1e6
            self.latencies_ms.append(latency)
            self.latencies_by_name.setdefault(name, []).append(latency)
        self.accepted += 1
        self.by_name[name] = self.by_name.get(name, 0) + 1
        self.arrivals.append(now / 1e9)
        self._changed.set()
        return web.Response(text="ok")

    async def keys(self, request: web.Request) -> web.Response:
        for name, secret in (await request.json()).items():
            self.verifiers[name] = WebhookVerifier(secret)
        return web.json_response({"names": sorted(self.verifiers)})

    def counts(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "verified": self.verified,
            "rejected": self.rejected,
            "distinct": len(self.ids),
            "duplicates": self.duplicates,
        }

    async def counts_route(self, _: web.Request) -> web.Response:
        return web.json_response(self.counts())

    async def ids_route(self, _: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(list(self.ids)), content_type="application/json")

    async def stats(self, _: web.Request) -> web.Response:
        document: dict[str, Any] = {
            **self.counts(),
            "by_name": self.by_name,
            "arrivals": self.arrivals,
            "latencies_ms": self.latencies_ms,
            "latencies_by_name": self.latencies_by_name,
        }
        return web.Response(body=orjson.dumps(document), content_type="application/json")

    async def reset_route(self, _: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    async def wait(self, request: web.Request) -> web.Response:
        count = int(request.query["count"])
        deadline = time.monotonic() + float(request.query.get("timeout", "30"))
        while self.accepted < count and time.monotonic() < deadline:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return web.json_response({"accepted": self.accepted})


def build(tally: Tally) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post("/hook/{name}", tally.hook)
    app.router.add_post("/keys", tally.keys)
    app.router.add_get("/stats", tally.stats)
    app.router.add_get("/counts", tally.counts_route)
    app.router.add_get("/ids", tally.ids_route)
    app.router.add_post("/reset", tally.reset_route)
    app.router.add_get("/wait", tally.wait)
    return app


async def serve(port: int) -> None:
    runner = web.AppRunner(build(Tally()), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    print(f"ready {runner.addresses[0][1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
