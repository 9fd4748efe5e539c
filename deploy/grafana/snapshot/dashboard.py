"""What a picture of a dashboard needs from its JSON, and the pure rules to draw it.

Reading: each panel's kind, title, grid position, unit, stacking, thresholds and PromQL
targets (:func:`read_dashboard`). Querying: Grafana's variables replaced as Grafana would
(:func:`expand`, :func:`rate_interval`). Drawing: where a grid position lands on the page
(:func:`grid_box`), what a series is called (:func:`legend_label`), how a value reads
(:func:`format_value`) and which threshold colour it gets (:func:`threshold_color`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

GRID_COLUMNS = 24
# Grafana's own colour names, as its default theme draws them.
NAMED_COLORS = {
    "green": "#56A64B",
    "orange": "#FF9830",
    "red": "#E02F44",
    "blue": "#3274D9",
    "yellow": "#F2CC0C",
    "purple": "#A352CC",
    "text": "#333333",
}
_LEGEND_LABEL = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class PanelKind(StrEnum):
    ROW = "row"
    STAT = "stat"
    TIMESERIES = "timeseries"


@dataclass(slots=True, frozen=True)
class GridPos:
    x: int
    y: int
    w: int
    h: int


@dataclass(slots=True, frozen=True)
class Target:
    expr: str
    legend: str


@dataclass(slots=True, frozen=True)
class Threshold:
    value: float | None  # None: the base colour, below every other step
    color: str


@dataclass(slots=True, frozen=True)
class Panel:
    kind: PanelKind
    title: str
    grid: GridPos
    unit: str = "short"
    stacked: bool = False
    minimum: float | None = None
    thresholds: tuple[Threshold, ...] = ()
    targets: tuple[Target, ...] = ()


@dataclass(slots=True, frozen=True)
class Dashboard:
    uid: str
    title: str
    panels: tuple[Panel, ...]

    @property
    def grid_rows(self) -> int:
        """Height of the whole grid, in grid units."""
        return max((p.grid.y + p.grid.h for p in self.panels), default=0)


def _panel(raw: Mapping[str, Any]) -> Panel:
    kind = PanelKind(raw["type"])
    grid = GridPos(**{k: int(raw["gridPos"][k]) for k in ("x", "y", "w", "h")})
    defaults = raw.get("fieldConfig", {}).get("defaults", {})
    custom = defaults.get("custom", {})
    stacking = custom.get("stacking") or {}
    steps = defaults.get("thresholds", {}).get("steps", [])
    return Panel(
        kind=kind,
        title=str(raw.get("title", "")),
        grid=grid,
        unit=str(defaults.get("unit", "short")),
        stacked=stacking.get("mode", "none") not in ("none", "off"),
        minimum=defaults.get("min"),
        thresholds=tuple(Threshold(s.get("value"), str(s["color"])) for s in steps),
        targets=tuple(
            Target(str(t["expr"]), str(t.get("legendFormat", "")))
            for t in raw.get("targets", [])
            if not t.get("hide")
        ),
    )


def parse_dashboard(board: Mapping[str, Any]) -> Dashboard:
    """The panels of a dashboard's JSON model, rows included (and panels inside them)."""
    panels: list[Panel] = []
    for raw in board.get("panels", []):
        panels.append(_panel(raw))
        panels.extend(_panel(inner) for inner in raw.get("panels", []))  # collapsed row
    return Dashboard(uid=str(board["uid"]), title=str(board["title"]), panels=tuple(panels))


def read_dashboard(path: Path) -> Dashboard:
    board: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return parse_dashboard(board)


# -- querying -------------------------------------------------------------------------------


def rate_interval(step_seconds: float, scrape_interval_seconds: float) -> str:
    """``$__rate_interval`` as Grafana computes it: max(step + scrape, 4 * scrape)."""
    seconds = max(step_seconds + scrape_interval_seconds, 4 * scrape_interval_seconds)
    return f"{math.ceil(seconds)}s"


def expand(expr: str, variables: Mapping[str, str]) -> str:
    """``expr`` with each ``$name`` (longest names first, so ``$__rate_interval`` wins
    over a ``$__rate``) replaced; an unknown variable is a ValueError, never sent as is."""
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(f"${name}", variables[name]).replace(f"${{{name}}}", variables[name])
    if "$" in expr:
        raise ValueError(f"unknown variable in {expr!r}")
    return expr


def align(
    points: Iterable[tuple[float, str]], start: float, end: float, step: float
) -> list[float]:
    """A query_range result's ``[time, "value"]`` pairs on the full step grid from
    ``start`` to ``end``; a missing step is NaN (a gap in the line, not a zero)."""
    count = round((end - start) / step) + 1
    values = [math.nan] * count
    for at, text in points:
        index = round((float(at) - start) / step)
        if 0 <= index < count:
            values[index] = float(text)  # "NaN" and "+Inf" parse too
    return values


# -- drawing --------------------------------------------------------------------------------


def legend_label(legend: str, labels: Mapping[str, str]) -> str:
    """A series' name as Grafana writes it from ``legendFormat``: each ``{{label}}`` is
    that label's value (empty when the series has none); no format names the series by
    its labels, ``{}`` for a series without any (an aggregate)."""
    if legend and legend != "__auto":
        return _LEGEND_LABEL.sub(lambda m: labels.get(m.group(1), ""), legend)
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(shown.items()))
    return f"{labels.get('__name__', '')}{{{inner}}}"


def grid_box(
    grid: GridPos, grid_rows: int, *, top: float = 0.0, bottom: float = 0.0, pad: float = 0.0
) -> tuple[float, float, float, float]:
    """``(left, bottom, width, height)`` in figure fractions of a grid position, with the
    grid filling the page between the ``top`` and ``bottom`` margins (fractions) and
    ``pad`` (a fraction of one grid unit, across and down) left free between panels."""
    if grid_rows <= 0:
        raise ValueError("an empty grid has no boxes")
    column = 1.0 / GRID_COLUMNS
    row = (1.0 - top - bottom) / grid_rows
    gap_x, gap_y = pad * column, pad * row
    left = grid.x * column + gap_x / 2
    width = grid.w * column - gap_x
    height = grid.h * row - gap_y
    # Grafana counts y down from the top; figures count up from the bottom.
    lowest = 1.0 - top - (grid.y + grid.h) * row + gap_y / 2
    return left, lowest, width, height


_TICK_SECONDS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def time_tick_seconds(span_seconds: float, most: int = 7) -> int:
    """The smallest round spacing that puts at most ``most`` clock ticks over the span."""
    for spacing in _TICK_SECONDS:
        if span_seconds / spacing <= most:
            return spacing
    return math.ceil(span_seconds / most / 3600) * 3600


def clock(unix_seconds: float) -> str:
    """``HH:MM:SS`` in UTC (the pictures' time axis)."""
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%H:%M:%S")


def threshold_color(value: float, thresholds: Sequence[Threshold]) -> str:
    """The colour of the highest step at or below ``value`` (the base step is None)."""
    color = "text"
    for step in thresholds:
        if step.value is None or value >= step.value:
            color = step.color
    return NAMED_COLORS.get(color, color)


_SI = ((1e9, " Bil"), (1e6, " Mil"), (1e3, " K"))
_RATE_SUFFIX = {"reqps": " req/s", "ops": " ops/s"}


def _number(value: float) -> str:
    """Three significant digits, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _short(value: float) -> str:
    for factor, suffix in _SI:
        if abs(value) >= factor:
            return _number(value / factor) + suffix
    return _number(value)


def _seconds(value: float) -> str:
    magnitude = abs(value)
    if magnitude == 0:
        return "0 s"
    if magnitude < 1e-3:
        return f"{_number(value * 1e6)} µs"
    if magnitude < 1:
        return f"{_number(value * 1e3)} ms"
    if magnitude < 60:
        return f"{_number(value)} s"
    if magnitude < 3600:
        return f"{_number(value / 60)} min"
    return f"{_number(value / 3600)} h"


def format_value(value: float, unit: str) -> str:
    """A value as the panel's unit reads (Grafana's unit ids: percentunit, s, reqps,
    ops, short, none)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if unit == "percentunit":
        return f"{_number(value * 100)}%"
    if unit == "s":
        return _seconds(value)
    if unit in _RATE_SUFFIX:
        return _short(value) + _RATE_SUFFIX[unit]
    if unit == "none":
        return _number(value)
    return _short(value)


def last_value(values: Sequence[float]) -> float | None:
    """Grafana's ``lastNotNull``: the last value that is a number, None when none is."""
    for value in reversed(values):
        if not math.isnan(value):
            return value
    return None
