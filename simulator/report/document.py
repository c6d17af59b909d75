"""The result as one plain document: the source of the JSON and CSV reports.

Numbers are rounded to fixed significant digits so that a report is stable
across platforms and byte-identical for the same scenario and seed.
"""

from typing import Any

from simulator.comparison import Comparison, compare
from simulator.engine.warmup import BATCH_SIZE
from simulator.messaging.report import async_document
from simulator.pricing.cost import CostLine
from simulator.reliability import RULE
from simulator.results import Estimate, TopologySummary
from simulator.runner import ScenarioResult
from simulator.scenario.model import (
    SCHEMA_VERSION,
    ContainerServiceConfig,
    Scenario,
)

_DIGITS = 10


def _round(value: float) -> float:
    if value == 0 or value != value:
        return 0.0
    return float(f"{value:.{_DIGITS}g}")


def _clean(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return _round(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return str(value)


def _interval(value: Estimate) -> float | None:
    return value.half_width


def _cost_line(line: CostLine) -> dict[str, Any]:
    return {
        "component": line.component,
        "meter": line.meter,
        "quantity": line.quantity,
        "unit": line.unit,
        "unit_price_usd": line.unit_price_usd,
        "usd": line.usd,
        "free_units": line.free_units,
        "source": line.source,
        "date": line.date,
        "verified": line.verified,
        "overridden": line.overridden,
    }


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    # "latency_s.p99" -> {"latency_s": {"p99": ...}}, like a topology's figures.
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        head, _, tail = key.partition(".")
        if tail:
            nested.setdefault(head, {})[tail] = value
        else:
            nested[key] = value
    return nested


def _run_document(summary: TopologySummary) -> dict[str, Any]:
    replications = summary.replications
    document: dict[str, Any] = {
        "warmup_s": [r.warmup_s for r in replications],
        "window_s": [r.window_s for r in replications],
    }
    cuts = [r.warmup_cut for r in replications]
    if any(cut is not None for cut in cuts):
        document["warmup_cut"] = [
            None
            if cut is None
            else {
                "method": "MSER-5",
                "requests": cut.requests,
                "time_s": cut.time_s,
                "batch_size": cut.batch_size,
                "batches": cut.batches,
                "steady_state_found": not cut.at_limit,
            }
            for cut in cuts
        ]
    return document


def _with_intervals(
    figures: dict[str, dict[str, Any]], intervals: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    return {
        name: {**values, "ci95_half_width": intervals.get(name, {})}
        for name, values in figures.items()
    }


def comparison_document(comparison: Comparison) -> dict[str, Any]:
    """Return one topology's paired differences from the baseline."""
    differences = comparison.differences
    return {
        "topology": comparison.topology,
        "baseline": comparison.baseline,
        "difference": _nested({k: d.mean for k, d in differences.items()}),
        "ci95_half_width": _nested({k: d.half_width for k, d in differences.items()}),
        "unpaired_ci95_half_width": _nested(
            {k: d.unpaired_half_width for k, d in differences.items()}
        ),
        "relative": _nested({k: d.relative for k, d in differences.items()}),
    }


def topology_document(summary: TopologySummary) -> dict[str, Any]:
    """Return one topology's figures as a plain mapping."""
    figures = summary.figures
    basis = summary.basis
    return {
        "name": summary.name,
        "description": summary.description,
        "replications": len(summary.replications),
        "offered_rps": figures["offered_rps"].mean,
        "throughput_rps": figures["throughput_rps"].mean,
        "goodput_rps": figures["goodput_rps"].mean,
        "requests": {
            "arrived": summary.arrived,
            "succeeded": summary.succeeded,
            "failed": sum(summary.errors.values()),
            "in_flight": summary.in_flight,
        },
        "errors": summary.errors,
        "error_rate": figures["error_rate"].mean,
        "in_flight_mean": figures["in_flight_mean"].mean,
        "latency_s": {key: value.mean for key, value in summary.latency.items()},
        "cost": {
            "monthly_usd": figures["monthly_usd"].mean,
            "per_million_requests_usd": figures["per_million_requests_usd"].mean,
            "monthly_requests": basis.monthly_requests,
            "breakdown": [_cost_line(line) for line in summary.cost_lines()],
        },
        "ci95_half_width": {
            **{key: _interval(value) for key, value in figures.items()},
            "latency_s": {
                key: _interval(value) for key, value in summary.latency.items()
            },
        },
        "unreliable": summary.unreliable,
        "run": _run_document(summary),
        "littles_law": summary.littles_law(),
        "services": _with_intervals(
            summary.service_figures(), summary.service_intervals()
        ),
        "links": _with_intervals(summary.hop_figures(), summary.hop_intervals()),
        **async_document(summary.replications),
    }


def assumptions(result: ScenarioResult) -> dict[str, Any]:
    """Return what the figures assume, per topology where it differs."""
    scenario = result.scenario
    first = result.topologies[0].basis
    return {
        "provider": scenario.pricing.provider,
        "region": first.region,
        "hours_per_month": first.hours_per_month,
        "gigabyte": first.gigabyte,
        "free_tier": first.free_tier,
        "units": "KB = 1000 bytes, KiB = 1024 bytes; a billed GB is "
        + ("2^30 bytes" if first.gigabyte == "binary" else "10^9 bytes"),
        "extrapolation": "per-request meters: usage per measured request x monthly "
        "requests; time meters: usage per hour x hours per month",
        "percentiles": "nearest rank over successful requests, HdrHistogram with 3 "
        "significant digits (at most 0.1 % above the exact sample percentile)",
        "warmup_s": scenario.run.warmup,
        "window_s": scenario.run.duration,
        "window_requests": None
        if scenario.run.requests is None
        else int(scenario.run.requests),
        "warmup": _warmup_text(scenario.run.warmup),
        "replications": scenario.run.replications,
        "interval": "t-based 95 % confidence interval over replications (half-width)",
        "unreliable": f"flagged unreliable: {RULE}",
        "comparisons": f"paired differences from {result.topologies[0].name} "
        "replication by replication (common random numbers: same arrivals and "
        "per-request work), t-based 95 % interval; unpaired: Welch's interval "
        "as if the runs were independent",
    }


def _warmup_text(warmup: float | str) -> str:
    if warmup == "auto":
        return (
            f"auto: MSER-5 (White 1997) on latencies in arrival order, batches "
            f"of {BATCH_SIZE}, cut chosen per replication in the first half of "
            "the run; the replication is re-run with that warm-up"
        )
    return f"fixed {float(warmup):g} s"


def _unpriced(scenario: Scenario, topology: str) -> dict[str, list[str]]:
    # Container services cost nothing unless the scenario prices them: say so
    # rather than let a $0 line pass for a fact.
    services = scenario.topologies[topology].services
    return {
        "unpriced": [
            name
            for name, config in services.items()
            if isinstance(config, ContainerServiceConfig)
            and config.hourly_price is None
        ]
    }


def build_document(result: ScenarioResult) -> dict[str, Any]:
    """Return the whole report as a JSON-ready mapping."""
    scenario = result.scenario
    document = {
        "schema_version": SCHEMA_VERSION,
        "tool": "isc-sim",
        "tool_version": result.tool_version,
        "scenario_name": scenario.name,
        "source": result.source,
        "seed": scenario.seed,
        "assumptions": assumptions(result),
        "scenario": scenario.model_dump(mode="json"),
        "topologies": [
            {**topology_document(summary), **_unpriced(scenario, summary.name)}
            for summary in result.topologies
        ],
        "comparisons": [comparison_document(c) for c in compare(result.topologies)],
    }
    return dict(_clean(document))
