"""Draw one dashboard with matplotlib from its query results, panel by panel, where its
grid puts them: time series as lines (stacked when the panel stacks), stat panels as a
big number over a sparkline, rows as section headings. A panel whose queries returned
nothing says "No data"; nothing is drawn that Prometheus did not answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import cycle
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

from deploy.grafana.snapshot.dashboard import (
    Dashboard,
    Panel,
    PanelKind,
    clock,
    format_value,
    grid_box,
    last_value,
    legend_label,
    threshold_color,
    time_tick_seconds,
)
from deploy.grafana.snapshot.queries import QueryResults

WIDTH_INCHES = 16.0
GRID_ROW_INCHES = 0.34  # one grid unit down (Grafana: 30 px)
HEADER_INCHES = 0.95
FOOTER_INCHES = 0.6
DPI = 100
PAD = 0.25  # of a grid unit, between panels
# Grafana's classic series palette.
PALETTE = ("#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9")
INK = "#1f1f1f"
MUTED = "#6e6e6e"
FRAME = "#d0d3d8"
PANEL_BACKGROUND = "#ffffff"
PAGE_BACKGROUND = "#f4f5f5"
LEGEND_COLUMNS = 4


@dataclass(slots=True, frozen=True)
class Line:
    label: str
    values: list[float]


class DashboardPicture:
    """One figure: the dashboard's header, its panels, and the footer."""

    def __init__(self, board: Dashboard, results: QueryResults, footer: str) -> None:
        self._board = board
        self._results = results
        self._footer = footer
        self._times = results.window.times()  # unix seconds, labelled as UTC clock times
        rows = board.grid_rows
        height = HEADER_INCHES + rows * GRID_ROW_INCHES + FOOTER_INCHES
        self._height = height
        self.figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, facecolor=PAGE_BACKGROUND)

    def _inches(self, across: float, down: float) -> tuple[float, float]:
        """Inches as figure fractions."""
        return across / WIDTH_INCHES, down / self._height

    def draw(self) -> Figure:
        self._header()
        _, top = self._inches(0, HEADER_INCHES)
        _, bottom = self._inches(0, FOOTER_INCHES)
        for panel in self._board.panels:
            box = grid_box(panel.grid, self._board.grid_rows, top=top, bottom=bottom, pad=PAD)
            if panel.kind is PanelKind.ROW:
                self._row(panel, box)
            else:
                self._frame(panel, box)
                lines = self._lines(panel)
                if not lines:
                    self._no_data(box)
                elif panel.kind is PanelKind.STAT:
                    self._stat(panel, box, lines)
                else:
                    self._time_series(panel, box, lines)
        self.figure.text(
            0.01, bottom * 0.5, self._footer, fontsize=9, color=MUTED, va="center", ha="left"
        )
        return self.figure

    def save(self, path: Path) -> None:
        self.draw().savefig(path, dpi=DPI, facecolor=PAGE_BACKGROUND)

    # -- parts ------------------------------------------------------------------------------

    def _header(self) -> None:
        window = self._results.window
        start = datetime.fromtimestamp(window.start, UTC)
        end = datetime.fromtimestamp(window.end, UTC)
        _, title_y = self._inches(0, 0.38)
        _, sub_y = self._inches(0, 0.72)
        self.figure.text(
            0.01,
            1 - title_y,
            self._board.title,
            fontsize=18,
            color=INK,
            fontweight="bold",
            va="center",
        )
        rate = window.variables()["__rate_interval"]
        self.figure.text(
            0.01,
            1 - sub_y,
            f"{self._board.uid} · {start:%Y-%m-%d %H:%M:%S} to {end:%H:%M:%S} UTC · "
            f"step {window.step:g}s · scrape every {window.scrape_interval:g}s · "
            f"$__rate_interval = {rate} · namespace = All",
            fontsize=10,
            color=MUTED,
            va="center",
        )

    def _row(self, panel: Panel, box: tuple[float, float, float, float]) -> None:
        left, lowest, _, height = box
        self.figure.text(
            left,
            lowest + height * 0.35,
            panel.title,
            fontsize=13,
            fontweight="bold",
            color=INK,
            va="center",
        )

    def _frame(self, panel: Panel, box: tuple[float, float, float, float]) -> None:
        left, lowest, width, height = box
        self.figure.add_artist(
            Rectangle(
                (left, lowest),
                width,
                height,
                transform=self.figure.transFigure,
                facecolor=PANEL_BACKGROUND,
                edgecolor=FRAME,
                linewidth=1,
                zorder=-1,  # under the panel's axes
            )
        )
        _, title_down = self._inches(0, 0.2)
        pad_x, _ = self._inches(0.1, 0)
        self.figure.text(
            left + pad_x,
            lowest + height - title_down,
            panel.title,
            fontsize=10.5,
            fontweight="bold",
            color=INK,
            va="center",
        )

    def _no_data(self, box: tuple[float, float, float, float]) -> None:
        left, lowest, width, height = box
        self.figure.text(
            left + width / 2,
            lowest + height / 2,
            "No data",
            fontsize=13,
            color=MUTED,
            ha="center",
            va="center",
        )

    def _lines(self, panel: Panel) -> list[Line]:
        """Every series of every target with at least one number, labelled for the legend."""
        lines = []
        for target in panel.targets:
            for series in self._results.series(target):
                if any(not math.isnan(v) for v in series.values):
                    lines.append(Line(legend_label(target.legend, series.labels), series.values))
        return lines

    def _stat(
        self, panel: Panel, box: tuple[float, float, float, float], lines: list[Line]
    ) -> None:
        left, lowest, width, height = box
        _, title_space = self._inches(0, 0.4)
        cell = width / len(lines)
        usable = height - title_space
        for index, line in enumerate(lines):
            value = last_value(line.values)
            if value is None:  # _lines keeps only series with a number
                continue
            color = threshold_color(value, panel.thresholds)
            x0 = left + index * cell
            spark = self.figure.add_axes((x0, lowest, cell, usable * 0.45))
            self._sparkline(spark, line.values, color)
            text = format_value(value, panel.unit)
            cell_points = cell * WIDTH_INCHES * 72
            size = min(usable * self._height * 72 * 0.42, cell_points / max(len(text), 3) * 1.5)
            centre_y = lowest + usable * (0.55 if len(lines) > 1 else 0.5)
            self.figure.text(
                x0 + cell / 2,
                centre_y,
                text,
                fontsize=size,
                color=color,
                fontweight="bold",
                ha="center",
                va="center",
            )
            if len(lines) > 1:
                self.figure.text(
                    x0 + cell / 2,
                    lowest + usable * 0.16,
                    line.label,
                    fontsize=9,
                    color=MUTED,
                    ha="center",
                    va="center",
                )

    def _sparkline(self, axes: Axes, values: Sequence[float], color: str) -> None:
        axes.set_axis_off()
        axes.patch.set_alpha(0)
        axes.fill_between(
            self._times,
            values,
            color=color,
            alpha=0.12,
            linewidth=0,
        )
        axes.plot(self._times, values, color=color, alpha=0.5, linewidth=1)
        axes.set_xlim(self._times[0], self._times[-1])
        axes.set_ylim(bottom=min(0.0, *(v for v in values if not math.isnan(v))))

    def _time_series(
        self, panel: Panel, box: tuple[float, float, float, float], lines: list[Line]
    ) -> None:
        left, lowest, width, height = box
        legend_rows = math.ceil(len(lines) / LEGEND_COLUMNS)
        margin_left, margin_top = self._inches(0.85, 0.42)
        margin_right, margin_bottom = self._inches(0.2, 0.32 + 0.2 * legend_rows)
        axes = self.figure.add_axes(
            (
                left + margin_left,
                lowest + margin_bottom,
                width - margin_left - margin_right,
                height - margin_top - margin_bottom,
            )
        )
        base = [0.0] * len(self._times)
        for line, color in zip(lines, cycle(PALETTE), strict=False):
            bottom, top, drawn = base, line.values, line.values
            if panel.stacked:
                top = [b + v for b, v in zip(base, line.values, strict=True)]  # NaN stays NaN
                base = [
                    b if math.isnan(v) else b + v for b, v in zip(base, line.values, strict=True)
                ]
                # Where a series adds nothing its line would lie on the one below and hide
                # it; with no hover to tell them apart, it is left out there.
                drawn = [t if v != 0 else math.nan for t, v in zip(top, line.values, strict=True)]
            # NaN (no point at that step) breaks the line and its fill: a gap, not a zero.
            axes.fill_between(self._times, bottom, top, color=color, alpha=0.1, linewidth=0)
            axes.plot(self._times, drawn, color=color, linewidth=1.2, label=line.label)
        numbers = [v for line in lines for v in line.values if not math.isnan(v)]
        self._style_axes(axes, panel, all_zero=all(v == 0 for v in numbers))
        _, below_ticks = self._inches(0, 0.27)
        axes.legend(
            loc="upper left",
            bbox_to_anchor=(left + margin_left, lowest + margin_bottom - below_ticks),
            bbox_transform=self.figure.transFigure,
            ncol=min(LEGEND_COLUMNS, len(lines)),
            frameon=False,
            fontsize=8.5,
            handlelength=1.2,
            columnspacing=1.5,
            borderaxespad=0,
        )

    def _style_axes(self, axes: Axes, panel: Panel, *, all_zero: bool) -> None:
        axes.set_xlim(self._times[0], self._times[-1])
        if all_zero:
            axes.set_ylim(0, 1)  # as Grafana shows a flat zero, not ±0.05
        elif panel.minimum is not None:
            axes.set_ylim(bottom=panel.minimum)
        axes.yaxis.set_major_locator(MaxNLocator(nbins=4))
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, panel.unit)))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda t, _: clock(t)))
        span = self._times[-1] - self._times[0]
        axes.xaxis.set_major_locator(MultipleLocator(time_tick_seconds(span)))
        axes.tick_params(labelsize=8, colors=MUTED, length=0)
        axes.grid(True, color="#e9eaec", linewidth=0.8)
        for spine in axes.spines.values():
            spine.set_visible(False)
