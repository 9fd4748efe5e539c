"""The customer's webhook receivers, on loopback: each verifies every request it gets.

A receiver checks the signature with its own key (:class:`signet_sdk.verify.WebhookVerifier`,
with a replay cache keyed by ``webhook-id``), answers 200 when healthy, and 503 when
the demo broke it; a failed request releases its id, so Signet's retry verifies again.
Each request is kept as an :class:`Arrival` for the demo to show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from signet_sdk.verify import ReplayError, SignatureError, WebhookVerifier

from signet.dev.loopback import LoopbackServer

PATH = "/hook"


@dataclass(slots=True, frozen=True)
class Arrival:
    webhook_id: str
    attempt: int  # how many requests with this webhook-id arrived so far
    verified: bool
    answered: int
    at: float  # time.time()
    error: str | None = None
    event_type: str | None = None


class VerifyingReceiver:
    def __init__(self, name: str) -> None:
        self.name = name
        # Set once the destination is registered (a generated secret is known only then).
        self.verifier: WebhookVerifier | None = None
        self.failing = False
        self.arrivals: list[Arrival] = []
        self._changed = asyncio.Condition()
        self._server = LoopbackServer()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.base_url + PATH

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(PATH, self._handle)
        await self._server.serve(app)

    async def stop(self) -> None:
        await self._server.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        webhook_id = request.headers.get("webhook-id", "?")
        attempt = 1 + sum(a.webhook_id == webhook_id for a in self.arrivals)
        if self.verifier is None:
            return await self._record(
                Arrival(webhook_id, attempt, False, 503, time.time(), error="no key yet")
            )
        try:
            webhook = self.verifier.verify(request.headers, body)
        except ReplayError:
            # Already processed: answer success and do nothing twice.
            return await self._record(Arrival(webhook_id, attempt, True, 200, time.time()))
        except SignatureError as exc:
            return await self._record(
                Arrival(webhook_id, attempt, False, 400, time.time(), error=str(exc))
            )
        event_type = str(webhook.event.get("type"))
        if self.failing:
            self.verifier.release(webhook.id)  # not processed: the retry must get through
            arrival = Arrival(webhook.id, attempt, True, 503, time.time(), "down", event_type)
            return await self._record(arrival)
        arrival = Arrival(webhook.id, attempt, True, 200, time.time(), event_type=event_type)
        return await self._record(arrival)

    async def _record(self, arrival: Arrival) -> web.Response:
        async with self._changed:
            self.arrivals.append(arrival)
            self._changed.notify_all()
        return web.Response(status=arrival.answered, text="ok" if arrival.answered == 200 else "")

    def of(self, webhook_id: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.webhook_id == webhook_id]

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Until ``condition()`` holds after some arrival; False at the deadline."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(condition), timeout)
            except TimeoutError:
                return False
        return True
