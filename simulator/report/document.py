"""The result as one plain document: the source of the JSON and CSV reports.

Numbers are rounded to fixed significant digits so that a report is stable
across platforms and byte-identical for the same scenario and seed.
"""

from typing import Any

from simulator.pricing.cost import CostLine
from simulator.results import Estimate, TopologySummary
from simulator.runner import ScenarioResult
from simulator.scenario.model import SCHEMA_VERSION

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
        "services": summary.service_figures(),
        "links": summary.hop_figures(),
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
        "replications": scenario.run.replications,
        "interval": "t-based 95 % confidence interval over replications (half-width)",
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
        "topologies": [topology_document(summary) for summary in result.topologies],
    }
    return dict(_clean(document))
