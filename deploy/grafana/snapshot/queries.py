"""Every panel's PromQL asked of a real Prometheus over one time window (``query_range``),
with Grafana's variables filled in as Grafana would fill them.

The answers are kept by expression, so they can be saved next to the pictures' run and
drawn again later (``--results``) without starting anything.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deploy.grafana.snapshot.dashboard import Dashboard, Target, align, expand, rate_interval

# One install on one machine: no namespace label, and "All" matches its absence.
NAMESPACE_ALL = ".*"


@dataclass(slots=True, frozen=True)
class Window:
    """The time range the panels show (unix seconds) and how it was sampled."""

    start: float
    end: float
    step: float
    scrape_interval: float

    def times(self) -> list[float]:
        count = round((self.end - self.start) / self.step) + 1
        return [self.start + i * self.step for i in range(count)]

    def variables(self) -> dict[str, str]:
        return {
            "namespace": NAMESPACE_ALL,
            "__rate_interval": rate_interval(self.step, self.scrape_interval),
        }


@dataclass(slots=True, frozen=True)
class Series:
    labels: dict[str, str]
    values: list[float]  # on the window's step grid, NaN where Prometheus had no point


class QueryError(RuntimeError):
    """Prometheus refused a query (bad PromQL) or could not be asked."""


def query_range(prometheus_url: str, expr: str, window: Window) -> list[dict[str, Any]]:
    """The ``result`` of ``/api/v1/query_range`` (a matrix) for ``expr`` over ``window``."""
    params = {
        "query": expr,
        "start": f"{window.start:.3f}",
        "end": f"{window.end:.3f}",
        "step": f"{window.step:g}",
    }
    url = f"{prometheus_url}/api/v1/query_range?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
            answer: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as exc:
        answer = json.load(exc)
    except (urllib.error.URLError, OSError) as exc:
        raise QueryError(f"cannot ask {prometheus_url}: {exc}") from exc
    if answer.get("status") != "success":
        raise QueryError(f"{expr}: {answer.get('error', answer)}")
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


class QueryResults:
    """``query_range`` answers by (expanded) expression, for one window; ``scenario``
    says what ran while Prometheus watched (it goes under the pictures)."""

    def __init__(
        self, window: Window, answers: dict[str, list[dict[str, Any]]], scenario: str
    ) -> None:
        self.window = window
        self.scenario = scenario
        self._answers = answers

    @classmethod
    def fetch(
        cls,
        prometheus_url: str,
        window: Window,
        dashboards: Iterable[Dashboard],
        scenario: str,
    ) -> QueryResults:
        variables = window.variables()
        answers: dict[str, list[dict[str, Any]]] = {}
        for board in dashboards:
            for panel in board.panels:
                for target in panel.targets:
                    expr = expand(target.expr, variables)
                    if expr not in answers:
                        answers[expr] = query_range(prometheus_url, expr, window)
        return cls(window, answers, scenario)

    def series(self, target: Target) -> list[Series]:
        """The series ``target`` returned, sorted by labels; [] when it returned none."""
        window = self.window
        expr = expand(target.expr, window.variables())
        if expr not in self._answers:
            raise KeyError(f"not queried: {expr}")
        found = [
            Series(
                labels=dict(raw["metric"]),
                values=align(raw["values"], window.start, window.end, window.step),
            )
            for raw in self._answers[expr]
        ]
        return sorted(found, key=lambda s: sorted(s.labels.items()))

    def save(self, path: Path) -> None:
        document = {
            "window": asdict(self.window),
            "scenario": self.scenario,
            "answers": self._answers,
        }
        path.write_text(json.dumps(document), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> QueryResults:
        document = json.loads(path.read_text(encoding="utf-8"))
        return cls(Window(**document["window"]), document["answers"], document["scenario"])
