"""Endpoint health: ``GET /v1/workspace/destinations/{id}/stats``, answered from the
delivery log's rollup (``delivery_log/rollup.py``), never from a scan of the attempts.

Session-scoped like every workspace route: viewers and admins may read it; another
workspace's destination id is not found (404), as is one deleted meanwhile.

    StatsApi(view, store, guard).register(app, api)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from signet_sdk.ids import now_ms

from services.portal.auth import SESSION_TOKEN, SessionGuard
from services.portal.commands import ConfigReader
from services.portal.delivery_log.errors import StoreUnavailable
from services.portal.delivery_log.store import LogStore
from services.portal.problems import SESSION_READ_ERRORS, log_unavailable
from services.portal.queries import read_query
from services.portal.sessions import SessionClaims
from services.portal.stats_models import EndpointHealth, StatsQuery
from services.portal.views import answer
from signet.api.operations import Api, Reply, operation, problem
from signet.web import not_found

logger = logging.getLogger(__name__)

STATS = "/v1/workspace/destinations/{destination_id}/stats"


class StatsApi:
    def __init__(
        self,
        view: ConfigReader,
        store: LogStore,
        guard: SessionGuard,
        *,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._view = view
        self._store = store
        self._guard = guard
        self._clock = clock

    def register(self, app: web.Application, api: Api) -> None:
        api.route(
            app,
            self.destination_stats,
            serve=self._guard.protect(self.destination_stats, write=False),
        )

    @operation(
        "GET",
        STATS,
        summary="A destination's health: outcomes per bucket, success rate, latency",
        tags=["workspace"],
        security=[SESSION_TOKEN],
        query=StatsQuery,
        responses={
            200: Reply("its health over the window", EndpointHealth),
            400: problem("a bad query parameter; `errors` names it"),
            **SESSION_READ_ERRORS,
            503: problem("the delivery log database is unavailable", **{"Retry-After": "seconds"}),
        },
        operation_id="destination_stats",
    )
    async def destination_stats(self, request: web.Request, claims: SessionClaims) -> web.Response:
        query = read_query(StatsQuery, request.query)
        destination_id = request.match_info["destination_id"]
        config = self._view.workspace(claims.workspace_id)
        if config is None or config.destination(destination_id) is None:
            raise not_found(f"no destination {destination_id}")
        window = query.window
        try:
            stats = await self._store.destination_stats(
                claims.workspace_id,
                destination_id,
                start=window.start(self._clock()),
                bucket_ms=window.bucket_ms,
                count=window.buckets,
            )
        except StoreUnavailable as exc:
            logger.warning("delivery log unavailable: %s", exc)
            raise log_unavailable() from exc
        return answer(EndpointHealth.of(window, stats))
