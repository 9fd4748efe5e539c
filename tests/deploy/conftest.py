"""Fixtures of the deployment checks: the chart rendered once per values set."""

from __future__ import annotations

from functools import cache

import pytest

from tests.deploy.chart import VALUES_FILES, Rendered, load_values, render


@cache
def rendered_with(values_name: str) -> Rendered:
    return render(load_values(values_name))


@pytest.fixture(params=sorted(VALUES_FILES))
def values_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def rendered(values_name: str) -> Rendered:
    return rendered_with(values_name)


@pytest.fixture
def production() -> Rendered:
    return rendered_with("production")


@pytest.fixture
def minimal() -> Rendered:
    return rendered_with("minimal")
