"""The terminal report: topologies side by side, then cost and services.

Rendered with rich from the same document as the JSON and CSV reports.
"""

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from simulator.engine.runtime import ERROR_CAUSES
from simulator.reliability import RULE
from simulator.report.async_tables import async_tables
from simulator.report.links import links_table, replicas_table

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


def _count(value: float) -> str:
    # Counts averaged over replications may be fractional; say so.
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _quantity(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:,.2f} M"
    if value >= 1e3:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


_COST_FIGURES = ("monthly_usd", "per_million_requests_usd")

_COMPARED = (
    ("throughput_rps", "throughput req/s", 2, 1.0),
    ("latency_s.mean", "latency mean ms", 2, 1000.0),
    ("latency_s.p50", "latency p50 ms", 2, 1000.0),
    ("latency_s.p99", "latency p99 ms", 2, 1000.0),
    ("latency_s.p999", "latency p99.9 ms", 2, 1000.0),
    ("monthly_usd", "monthly cost USD", 2, 1.0),
)


def _figure(topology: dict[str, Any], key: str) -> tuple[float, float | None]:
    """Return a figure's mean and half-width by its flat key."""
    intervals = topology["ci95_half_width"]
    if key.startswith("latency_s."):
        name = key.removeprefix("latency_s.")
        return topology["latency_s"][name], intervals["latency_s"][name]
    if key in _COST_FIGURES:
        return topology["cost"][key], intervals[key]
    return topology[key], intervals[key]


def _marked(topology: dict[str, Any], key: str, text: str) -> Text | str:
    """Dim a cell and add ``?`` when its figure is flagged unreliable."""
    if key in topology.get("unreliable", ()):
        return Text(f"{text} ?", style="dim")
    return text


def _difference(comparison: dict[str, Any], key: str) -> tuple[float, float | None]:
    head, _, tail = key.partition(".")
    if tail:
        return comparison["difference"][head][tail], comparison["ci95_half_width"][
            head
        ][tail]
    return comparison["difference"][key], comparison["ci95_half_width"][key]


def side_by_side(document: dict[str, Any]) -> Table:
    """Return the main table: one column per topology, one row per figure.

    Every estimate carries its 95 % half-width (±); a figure flagged
    unreliable is dimmed and marked ``?``, explained under the table. With
    two or more topologies the paired differences from the first follow.
    """
    topologies = document["topologies"]
    table = Table(title="Topologies side by side", title_justify="left")
    table.add_column("", style="bold", no_wrap=True)
    for topology in topologies:
        table.add_column(topology["name"], justify="right")

    def row(label: str, cell: Any) -> None:
        table.add_row(label, *(cell(t) for t in topologies))

    def figure(label: str, key: str, digits: int, scale: float = 1.0) -> None:
        def cell(t: dict[str, Any]) -> Text | str:
            if key.startswith("latency_s.") and not t["requests"]["succeeded"]:
                # No successful request: there is no latency to show.
                return Text("—", style="dim")
            mean, half_width = _figure(t, key)
            return _marked(t, key, _with_interval(mean, half_width, digits, scale))

        row(label, cell)

    figure("offered req/s", "offered_rps", 2)
    figure("throughput req/s", "throughput_rps", 2)
    figure("goodput req/s", "goodput_rps", 2)

    def errors(t: dict[str, Any]) -> Text | str:
        half_width = t["ci95_half_width"]["error_rate"]
        text = f"{t['requests']['failed']:,} ({t['error_rate'] * 100:.2f} %"
        if half_width is not None:
            text += f" ±{half_width * 100:.2f}"
        return _marked(t, "error_rate", text + ")")

    row("errors n (%)", errors)
    for cause in ERROR_CAUSES:
        if any(t["errors"][cause] for t in topologies):
            row(
                f"  {cause.replace('_', ' ')}",
                lambda t, c=cause: f"{t['errors'][c]:,}",
            )

    def unfinished(t: dict[str, Any]) -> str:
        requests = t["requests"]
        share = requests["in_flight"] / max(requests["arrived"], 1) * 100
        return f"{requests['in_flight']:,} ({share:.2f} %)"

    if any(t["requests"]["in_flight"] for t in topologies):
        row("unfinished at the end", unfinished)
    figure("in flight (time-avg)", "in_flight_mean", 2)
    table.add_section()
    for key, label in _LATENCY_KEYS:
        figure(f"latency {label} ms", f"latency_s.{key}", 2, 1000.0)
    table.add_section()
    figure("monthly cost USD", "monthly_usd", 2)
    figure("USD per million requests", "per_million_requests_usd", 4)

    comparisons = {c["topology"]: c for c in document.get("comparisons", [])}
    if comparisons:
        table.add_section()
        baseline = topologies[0]["name"]
        for key, label, digits, scale in _COMPARED:

            def paired(
                t: dict[str, Any], k: str = key, d: int = digits, x: float = scale
            ) -> str:
                found = comparisons.get(t["name"])
                if found is None:
                    return "baseline"
                mean, half_width = _difference(found, k)
                text = f"{mean * x:+,.{d}f}"
                if half_width is not None:
                    text += f" ±{half_width * x:,.{d}f}"
                return text

            row(f"Δ {label} vs {baseline}", paired)

    notes = []
    if any(t.get("unreliable") for t in topologies):
        notes.append(f"? unreliable: {RULE}")
    if comparisons:
        notes.append("Δ: paired difference per replication (common random numbers)")
    if notes:
        table.caption = "\n".join(notes)
        table.caption_justify = "left"
    return table


def cost_table(topology: dict[str, Any]) -> Table:
    """Return one topology's monthly cost, line by line."""
    cost = topology["cost"]
    title = (
        f"Monthly cost of {topology['name']}: {_money(cost['monthly_usd'])} "
        f"for {cost['monthly_requests'] / 1e6:,.2f} M requests"
    )
    caption = None
    if topology.get("unpriced"):
        caption = (
            f"Not priced (no hourly_price): {', '.join(topology['unpriced'])}; "
            "their compute is not in the total."
        )
    table = Table(
        title=title, title_justify="left", caption=caption, caption_justify="left"
    )
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
            ci = service.get("ci95_half_width", {})
            table.add_row(
                topology["name"],
                name,
                service["kind"],
                f"{service['served']:,.0f}",
                _with_interval(service["utilisation"], ci.get("utilisation"), 1, 100.0)
                + " %"
                if container
                else "",
                _with_interval(
                    service["queue_length_mean"], ci.get("queue_length_mean"), 2
                )
                if container
                else "",
                ""
                if container
                else _with_interval(
                    service["concurrency_mean"], ci.get("concurrency_mean"), 2
                ),
                ""
                if container
                else f"{_count(service['cold_starts'])} "
                f"({service['cold_start_rate'] * 100:.2f} %)",
                "" if container else f"{service['throttled']:,.0f}",
            )
    return table


def assumptions_text(document: dict[str, Any]) -> Text:
    """Return the assumptions behind every figure, as a short paragraph."""
    a = document["assumptions"]
    if a.get("window_requests") is not None:
        window = f"{a['window_requests']:,} measured requests"
    else:
        window = f"{a['window_s']:g} s"
    lines = [
        f"Scenario {document['scenario_name']!r} from {document['source']}, seed "
        f"{document['seed']}: {a['replications']} replication(s) of {window} "
        f"after a warm-up ({a['warmup']}); ± is the {a['interval']}.",
        *_warmup_cuts(document),
        f"Prices: {a['provider']} {a['region']} catalog with the scenario's overrides; "
        f"a month is {a['hours_per_month']:g} hours; free tiers "
        f"{'on (once per account)' if a['free_tier'] else 'off'}; {a['units']}.",
        f"Extrapolation: {a['extrapolation']}.",
        f"Latency: {a['percentiles']}.",
    ]
    return Text("\n".join(lines), style="dim")


def _warmup_cuts(document: dict[str, Any]) -> list[str]:
    lines = []
    for topology in document["topologies"]:
        cuts = topology["run"].get("warmup_cut")
        if not cuts:
            continue
        chosen = ", ".join(
            f"{cut['time_s']:.3g} s ({cut['requests']:,} req)"
            + ("" if cut["steady_state_found"] else " no steady state")
            for cut in cuts
        )
        lines.append(f"Warm-up of {topology['name']} per replication: {chosen}.")
    return lines


def render(document: dict[str, Any], console: Console) -> None:
    """Print the whole terminal report."""
    parts: list[Any] = [side_by_side(document)]
    parts += [cost_table(topology) for topology in document["topologies"]]
    parts.append(services_table(document))
    parts += [t for t in (replicas_table(document), links_table(document)) if t]
    parts += async_tables(document)
    parts.append(assumptions_text(document))
    console.print(Group(*parts))
