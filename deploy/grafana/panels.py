"""What every Signet dashboard shares: the data source and namespace variables, the links
between dashboards, and the few panel shapes they use (time series, stat).

Every query reads from the ``$datasource`` variable and filters on ``$namespace`` (through
:data:`NS`), so one Grafana shows one install or several; on a single local stack the
``namespace`` label is absent and the default "All" (``.*``) still matches.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models

TAG = "signet"
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
# The label filter every query carries; PromQL selectors splice it in.
NS = 'namespace=~"$namespace"'
RATE = "$__rate_interval"
SIGNET_JOBS = 'job=~"signet-.+"'

_REF_IDS = "ABCDEFGHIJ"


def query(expr: str, legend: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).range()


def time_series(
    title: str,
    description: str,
    unit: str,
    *queries: prometheus.Dataquery,
    stacked: bool = False,
    span: int = 12,
    minimum: float | None = 0,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(8)
        .span(span)
        .line_width(1)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
    )
    if minimum is not None:
        panel = panel.min(minimum)
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    for ref_id, target in zip(_REF_IDS, queries, strict=False):
        panel = panel.with_target(target.ref_id(ref_id))
    return panel


def stat_panel(
    title: str,
    description: str,
    unit: str,
    target: prometheus.Dataquery,
    *,
    steps: list[models.Threshold],
    span: int = 6,
) -> stat.Panel:
    """A big number over the last value, coloured by ``steps`` (the first has value None)."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(5)
        .span(span)
        .with_target(target.ref_id("A"))
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.AREA)
        .text_mode(common.BigValueTextMode.AUTO)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(
            dashboard_builders.ThresholdsConfig().mode(models.ThresholdsMode.ABSOLUTE).steps(steps)
        )
    )


def steps(*pairs: tuple[float | None, str]) -> list[models.Threshold]:
    return [models.Threshold(value=value, color=color) for value, color in pairs]


def base_dashboard(uid: str, title: str, description: str) -> dashboard_builders.Dashboard:
    """A dashboard with Signet's variables, time range, refresh and cross-links."""
    return (
        dashboard_builders.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .editable()
        .time("now-3h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dashboard_builders.DatasourceVariable("datasource")
            .label("Data source")
            .type("prometheus")
        )
        .with_variable(
            dashboard_builders.QueryVariable("namespace")
            .label("Namespace")
            .datasource(DATASOURCE)
            .query(f"label_values(up{{{SIGNET_JOBS}}}, namespace)")
            .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(models.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
        .link(
            dashboard_builders.DashboardLink("Signet")
            .type(models.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )


def number_panels(board: models.Dashboard) -> models.Dashboard:
    """Give every panel and row a stable id (the SDK leaves them unset)."""
    for number, panel in enumerate(board.panels or [], start=1):
        panel.id_val = number
    return board
