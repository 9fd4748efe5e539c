"""Read a dispatcher's Prometheus metrics in tests."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.eventually import eventually


async def scrape(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.text()


def samples(text: str, name: str, **labels: str) -> list[float]:
    """The values of the samples called ``name`` whose labels include ``labels``."""
    return [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(samples(text, name, **labels))


async def scrape_until(
    url: str, check: Callable[[str], bool], what: str, timeout: float = 30
) -> str:
    """The first scrape ``check`` accepts; fails the test at the deadline."""

    async def accepted() -> str | None:
        text = await scrape(url)
        return text if check(text) else None

    return await eventually(accepted, f"{what}: not seen at {url}", timeout, interval=0.1)
