"""The terminal report: topologies side by side, then cost and services.

Rendered with rich from the same document as the JSON and CSV reports.
"""

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from simulator.engine.runtime import ERROR_CAUSES

_LATENCY_KEYS = (
    ("mean", "mean"),
    ("p50", "p50"),
    ("p90", "p90"),
    ("p95", "p95"),
    ("p99", "p99"),
    ("p999", "p99.9"),
    ("max", "max"),
)


def _with_interval(
    value: float, half_width: float | None, digits: int, scale: float = 1.0
) -> str:
    text = f"{value * scale:,.{digits}f}"
    if half_width is not None:
        text += f" ±{half_width * scale:,.{digits}f}"
    return text


def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:,.4f}"


def _unit_price(usd: float) -> str:
    if usd == 0:
        return "$0"
    if usd < 0.001:
        return f"${usd * 1e6:,.4g} per M"
    return f"${usd:,.4g}"


def _quantity(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:,.2f} M"
    if value >= 1e3:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def side_by_side(document: dict[str, Any]) -> Table:
    """Return the main table: one column per topology, one row per figure."""
    topologies = document["topologies"]
    table = Table(title="Topologies side by side", title_justify="left")
    table.add_column("", style="bold", no_wrap=True)
    for topology in topologies:
        table.add_column(topology["name"], justify="right")

    def row(label: str, cell: Any) -> None:
        table.add_row(label, *(cell(t, t["ci95_half_width"]) for t in topologies))

    row("offered req/s", lambda t, ci: f"{t['offered_rps']:,.2f}")
    row(
        "throughput req/s",
        lambda t, ci: _with_interval(t["throughput_rps"], ci["throughput_rps"], 2),
    )
    row(
        "goodput req/s",
        lambda t, ci: _with_interval(t["goodput_rps"], ci["goodput_rps"], 2),
    )
    row(
        "errors n (%)",
        lambda t, ci: f"{t['requests']['failed']:,} ({t['error_rate'] * 100:.2f} %)",
    )
    for cause in ERROR_CAUSES:
        if any(t["errors"][cause] for t in topologies):
            row(
                f"  {cause.replace('_', ' ')}",
                lambda t, ci, c=cause: f"{t['errors'][c]:,}",
            )
    table.add_section()
    for key, label in _LATENCY_KEYS:
        row(
            f"latency {label} ms",
            lambda t, ci, k=key: _with_interval(
                t["latency_s"][k], ci["latency_s"][k], 2, 1000.0
            ),
        )
    table.add_section()
    row(
        "monthly cost USD",
        lambda t, ci: _with_interval(t["cost"]["monthly_usd"], ci["monthly_usd"], 2),
    )
    row(
        "USD per million requests",
        lambda t, ci: _money(t["cost"]["per_million_requests_usd"]),
    )
    return table


def cost_table(topology: dict[str, Any]) -> Table:
    """Return one topology's monthly cost, line by line."""
    cost = topology["cost"]
    title = (
        f"Monthly cost of {topology['name']}: {_money(cost['monthly_usd'])} "
        f"for {cost['monthly_requests'] / 1e6:,.2f} M requests"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("component")
    table.add_column("meter")
    table.add_column("quantity", justify="right")
    table.add_column("unit")
    table.add_column("unit price", justify="right")
    table.add_column("USD / month", justify="right")
    table.add_column("price source")

    for line in cost["breakdown"]:
        flags = []
        if line["overridden"]:
            flags.append("scenario override")
        elif not line["verified"]:
            flags.append("unverified")
        if line["free_units"]:
            flags.append(f"free tier {_quantity(line['free_units'])}")
        source = line["source"].split(":")[0][:40]
        if flags:
            source += f" [{', '.join(flags)}]"
        table.add_row(
            line["component"],
            line["meter"],
            _quantity(line["quantity"]),
            line["unit"],
            _unit_price(line["unit_price_usd"]),
            _money(line["usd"]),
            source,
        )
    return table


def services_table(document: dict[str, Any]) -> Table:
    """Return utilisation, queues and cold starts of every service."""
    table = Table(
        title="Services (time-weighted over the window)", title_justify="left"
    )
    for name in (
        "topology",
        "service",
        "kind",
        "served",
        "utilisation",
        "queue mean",
        "concurrency mean",
        "cold starts",
        "throttled",
    ):
        table.add_column(
            name, justify="left" if name in ("topology", "service", "kind") else "right"
        )

    for topology in document["topologies"]:
        for name, service in topology["services"].items():
            container = service["kind"] == "container"
            table.add_row(
                topology["name"],
                name,
                service["kind"],
                f"{service['served']:,.0f}",
                f"{service['utilisation'] * 100:.1f} %" if container else "",
                f"{service['queue_length_mean']:.2f}" if container else "",
                "" if container else f"{service['concurrency_mean']:.2f}",
                ""
                if container
                else f"{service['cold_starts']:,.0f} "
                f"({service['cold_start_rate'] * 100:.2f} %)",
                "" if container else f"{service['throttled']:,.0f}",
            )
    return table


def assumptions_text(document: dict[str, Any]) -> Text:
    """Return the assumptions behind every figure, as a short paragraph."""
    a = document["assumptions"]
    lines = [
        f"Scenario {document['scenario_name']!r} from {document['source']}, seed "
        f"{document['seed']}: {a['replications']} replication(s) of "
        f"{a['window_s']:g} s "
        f"after {a['warmup_s']:g} s of warm-up; ± is the {a['interval']}.",
        f"Prices: {a['provider']} {a['region']} catalog with the scenario's overrides; "
        f"a month is {a['hours_per_month']:g} hours; free tiers "
        f"{'on (once per account)' if a['free_tier'] else 'off'}; {a['units']}.",
        f"Extrapolation: {a['extrapolation']}.",
        f"Latency: {a['percentiles']}.",
    ]
    return Text("\n".join(lines), style="dim")


def render(document: dict[str, Any], console: Console) -> None:
    """Print the whole terminal report."""
    parts: list[Any] = [side_by_side(document)]
    parts += [cost_table(topology) for topology in document["topologies"]]
    parts.append(services_table(document))
    parts.append(assumptions_text(document))
    console.print(Group(*parts))
