"""The pure parts of the dashboard pictures (deploy/grafana/snapshot): panels and targets
read from the committed dashboard JSON, Grafana's variables, grid geometry, legend
labels, units and thresholds. Nothing here starts a process."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from deploy.grafana import build
from deploy.grafana.snapshot.dashboard import (
    GRID_COLUMNS,
    NAMED_COLORS,
    GridPos,
    PanelKind,
    Target,
    Threshold,
    align,
    clock,
    expand,
    format_value,
    grid_box,
    last_value,
    legend_label,
    parse_dashboard,
    rate_interval,
    read_dashboard,
    threshold_color,
    time_tick_seconds,
)
from deploy.grafana.snapshot.queries import QueryResults, Window

DASHBOARDS = sorted(build.DASHBOARD_DIR.glob("*.json"))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_and_target_of_the_committed_json_is_read(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    board = read_dashboard(path)
    assert (board.uid, board.title) == (raw["uid"], raw["title"])
    assert [p.title for p in board.panels] == [p["title"] for p in raw["panels"]]
    for panel, source in zip(board.panels, raw["panels"], strict=True):
        assert panel.kind == source["type"]
        assert [(t.expr, t.legend) for t in panel.targets] == [
            (t["expr"], t["legendFormat"]) for t in source.get("targets", [])
        ]
        if panel.kind is not PanelKind.ROW:
            assert panel.targets, panel.title


def test_the_delivery_dashboard_reads_as_built() -> None:
    board = read_dashboard(build.DASHBOARD_DIR / "signet-delivery.json")
    by_title = {(p.kind, p.title): p for p in board.panels}
    success = by_title[PanelKind.STAT, "Success rate"]
    assert success.grid == GridPos(x=0, y=1, w=6, h=5)
    assert success.unit == "percentunit"
    assert success.thresholds == (
        Threshold(None, "red"),
        Threshold(0.5, "orange"),
        Threshold(0.9, "green"),
    )
    latency = by_title[PanelKind.TIMESERIES, "Receiver HTTP latency"]
    assert [t.legend for t in latency.targets] == ["p50", "p95", "p99"]
    assert latency.unit == "s" and not latency.stacked
    assert by_title[PanelKind.TIMESERIES, "Attempts by status class"].stacked
    assert by_title[PanelKind.TIMESERIES, "Attempts by status class"].minimum == 0
    assert by_title[PanelKind.TIMESERIES, "Success rate"].minimum is None
    assert board.grid_rows == 57


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_panels_fit_the_grid_without_overlapping(path: Path) -> None:
    board = read_dashboard(path)
    taken: set[tuple[int, int]] = set()
    for panel in board.panels:
        g = panel.grid
        assert g.x >= 0 and g.x + g.w <= GRID_COLUMNS, panel.title
        cells = {(x, y) for x in range(g.x, g.x + g.w) for y in range(g.y, g.y + g.h)}
        assert not cells & taken, f"{panel.title} overlaps another panel"
        taken |= cells


def test_a_collapsed_row_brings_its_panels() -> None:
    board = parse_dashboard(
        {
            "uid": "u",
            "title": "t",
            "panels": [
                {
                    "type": "row",
                    "title": "Folded",
                    "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1},
                    "panels": [
                        {
                            "type": "stat",
                            "title": "Inside",
                            "gridPos": {"x": 0, "y": 1, "w": 6, "h": 5},
                            "targets": [{"expr": "up", "legendFormat": "{{job}}"}],
                        }
                    ],
                }
            ],
        }
    )
    assert [(p.kind, p.title) for p in board.panels] == [
        (PanelKind.ROW, "Folded"),
        (PanelKind.STAT, "Inside"),
    ]
    assert board.panels[1].targets == (Target("up", "{{job}}"),)
    assert board.panels[1].unit == "short"


@pytest.mark.parametrize(
    ("legend", "labels", "expected"),
    [
        ("{{status_class}}", {"status_class": "5xx"}, "5xx"),
        (
            "{{ group }} / {{topic}}",
            {"group": "signet-dispatcher", "topic": "t"},
            "signet-dispatcher / t",
        ),
        ("disabled: {{cause}}", {"cause": "gone"}, "disabled: gone"),
        ("p99", {}, "p99"),
        ("{{missing}}", {"job": "x"}, ""),
        ("", {"__name__": "up", "job": "a", "instance": "h:1"}, 'up{instance="h:1", job="a"}'),
        ("__auto", {}, "{}"),
    ],
)
def test_legend_label_follows_grafana(legend: str, labels: dict[str, str], expected: str) -> None:
    assert legend_label(legend, labels) == expected


def test_every_committed_query_expands_to_plain_promql() -> None:
    variables = Window(0, 60, 2, 2).variables()
    assert variables == {"namespace": ".*", "__rate_interval": "8s"}
    for path in DASHBOARDS:
        for panel in read_dashboard(path).panels:
            for target in panel.targets:
                assert "$" not in expand(target.expr, variables), target.expr


def test_expand_replaces_the_longest_name_first_and_refuses_unknown_ones() -> None:
    variables = {"__rate": "X", "__rate_interval": "1m", "namespace": ".*"}
    assert expand('rate(m{ns=~"$namespace"}[$__rate_interval])', variables) == (
        'rate(m{ns=~".*"}[1m])'
    )
    assert expand("m{ns=~'${namespace}'}", variables) == "m{ns=~'.*'}"
    with pytest.raises(ValueError, match="unknown variable"):
        expand("rate(m[$__interval])", {"namespace": ".*"})


@pytest.mark.parametrize(
    ("step", "scrape", "expected"),
    [(2, 2, "8s"), (15, 15, "60s"), (60, 15, "75s"), (1.5, 1, "4s")],
)
def test_rate_interval_is_grafanas(step: float, scrape: float, expected: str) -> None:
    assert rate_interval(step, scrape) == expected


def test_align_puts_points_on_the_step_grid_with_gaps_as_nan() -> None:
    values = align([(100.0, "1"), (104.0, "3.5"), (106, "NaN"), (200, "9")], 100, 108, 2)
    assert values[0] == 1.0 and values[2] == 3.5
    assert [math.isnan(v) for v in values] == [False, True, False, True, True]
    assert align([(100.001, "+Inf")], 100, 100, 2) == [math.inf]


def test_last_value_is_grafanas_last_not_null() -> None:
    assert last_value([1.0, 2.0, math.nan]) == 2.0
    assert last_value([math.nan, math.nan]) is None
    assert last_value([]) is None


def test_grid_boxes_tile_the_page_top_down() -> None:
    rows = 10
    left, bottom, width, height = grid_box(GridPos(0, 0, 24, 10), rows, top=0.1, bottom=0.05)
    assert (left, width) == (0.0, 1.0)
    assert bottom == pytest.approx(0.05) and height == pytest.approx(0.85)
    # Grafana's y grows downwards: a panel lower on the dashboard is lower on the page.
    upper = grid_box(GridPos(12, 0, 12, 5), rows)
    lower = grid_box(GridPos(12, 5, 12, 5), rows)
    assert upper[1] == pytest.approx(0.5) and lower[1] == pytest.approx(0.0)
    assert upper[0] == pytest.approx(0.5) and upper[2] == pytest.approx(0.5)
    padded = grid_box(GridPos(12, 0, 12, 5), rows, pad=0.5)
    assert padded[0] > upper[0] and padded[2] < upper[2] and padded[3] < upper[3]
    with pytest.raises(ValueError):
        grid_box(GridPos(0, 0, 1, 1), 0)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (0.9731, "percentunit", "97.3%"),
        (1.0, "percentunit", "100%"),
        (0.0123, "s", "12.3 ms"),
        (0.00045, "s", "450 µs"),
        (2.5, "s", "2.5 s"),
        (90, "s", "1.5 min"),
        (49.96, "reqps", "50 req/s"),
        (1234.0, "ops", "1.23 K ops/s"),
        (4.31, "short", "4.31"),
        (2_500_000, "short", "2.5 Mil"),
        (0, "short", "0"),
        (3, "none", "3"),
        (math.nan, "s", "NaN"),
        (math.inf, "short", "∞"),
    ],
)
def test_format_value_reads_like_the_unit(value: float, unit: str, expected: str) -> None:
    assert format_value(value, unit) == expected


def test_threshold_color_takes_the_highest_step_reached() -> None:
    steps = (Threshold(None, "red"), Threshold(0.5, "orange"), Threshold(0.9, "green"))
    assert threshold_color(0.2, steps) == NAMED_COLORS["red"]
    assert threshold_color(0.5, steps) == NAMED_COLORS["orange"]
    assert threshold_color(0.97, steps) == NAMED_COLORS["green"]
    assert threshold_color(1, (Threshold(None, "#123456"),)) == "#123456"
    assert threshold_color(1, ()) == NAMED_COLORS["text"]


def test_time_axis_ticks_are_round_clock_times() -> None:
    assert time_tick_seconds(60) == 10
    assert time_tick_seconds(200) == 30
    assert time_tick_seconds(3 * 3600) == 1800
    assert time_tick_seconds(7 * 86400) == 86400
    assert clock(3600 * 25 + 61) == "01:01:01"


def test_saved_results_draw_the_same_series(tmp_path: Path) -> None:
    window = Window(start=100, end=104, step=2, scrape_interval=2)
    target = Target('sum by (job) (up{namespace=~"$namespace"})', "{{job}}")
    answers = {
        'sum by (job) (up{namespace=~".*"})': [
            {"metric": {"job": "signet-router"}, "values": [[100, "1"], [104, "1"]]},
            {"metric": {"job": "signet-ingest"}, "values": [[102, "0"]]},
        ]
    }
    path = tmp_path / "results.json"
    QueryResults(window, answers, "a test").save(path)
    loaded = QueryResults.load(path)
    assert loaded.scenario == "a test" and loaded.window == window
    ingest, router = loaded.series(target)
    assert ingest.labels == {"job": "signet-ingest"}
    assert router.values == [1.0, pytest.approx(math.nan, nan_ok=True), 1.0]
    with pytest.raises(KeyError, match="not queried"):
        loaded.series(Target("up", ""))
