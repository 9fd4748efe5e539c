"""The per-destination state that protects every other destination from one endpoint:
its in-flight cap and queue, circuit breaker, health (and disabling) and rate limit."""

from __future__ import annotations

from dataclasses import dataclass

from services.dispatcher.breaker import CircuitBreakers
from services.dispatcher.disabling import DestinationDisabler
from services.dispatcher.health import EndpointHealth
from services.dispatcher.limits import DestinationLimiter
from services.dispatcher.rate import RateLimiter


@dataclass(slots=True, frozen=True)
class EndpointGuards:
    """Per-destination state that protects the rest from one endpoint."""

    limiter: DestinationLimiter
    breakers: CircuitBreakers
    health: EndpointHealth
    disabler: DestinationDisabler
    window_seconds: float
    rate: RateLimiter
    # A delivery waits in memory for its rate-limit slot up to this; longer, on a tier.
    rate_wait_seconds: float
