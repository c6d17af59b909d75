"""Asynchronous flows and channels across replications, for the report.

A flow's figures are computed in each replication and given as the mean over
replications with the half-width of a t-based 95 % interval, as the
topology's own figures are. Channel figures (depth, age of the oldest message,
lag, counts) are means over replications; a milestone a replication did not
reach (a replay that had not caught up) makes the mean None.
"""

import math
from typing import Any

from simulator.engine.runtime import ERROR_CAUSES
from simulator.engine.simulation import ReplicationResult
from simulator.messaging.flows import FlowFigures
from simulator.metrics.histogram import PERCENTILES, LatencyHistogram
from simulator.results import Estimate, estimate


def _latency_figures(histogram: LatencyHistogram) -> dict[str, float]:
    figures = {key: histogram.percentile(p) for key, p in PERCENTILES}
    figures["max"] = histogram.max_s if histogram.count else 0.0
    figures["mean"] = histogram.mean_s
    return figures


def flow_document(
    name: str, flows: list[FlowFigures], windows_s: list[float]
) -> dict[str, Any]:
    """Return one flow's figures over replications."""
    throughput = estimate(
        [
            f.completed_in_window / w if w else 0.0
            for f, w in zip(flows, windows_s, strict=True)
        ]
    )
    per_replication = [_latency_figures(f.latency) for f in flows]
    latency: dict[str, Estimate] = {
        key: estimate([figures[key] for figures in per_replication])
        for key in per_replication[0]
    }
    errors = {cause: sum(f.errors[cause] for f in flows) for cause in ERROR_CAUSES}
    return {
        "root": name,
        "started": sum(f.started for f in flows),
        "succeeded": sum(f.succeeded for f in flows),
        "failed": sum(errors.values()),
        "errors": {cause: n for cause, n in errors.items() if n},
        "in_flight": sum(f.in_flight for f in flows),
        "throughput_rps": throughput.mean,
        "latency_s": {key: value.mean for key, value in latency.items()},
        "ci95_half_width": {
            "throughput_rps": throughput.half_width,
            "latency_s": {key: value.half_width for key, value in latency.items()},
        },
    }


def flows_document(replications: list[ReplicationResult]) -> dict[str, Any]:
    """Return every flow that some replication started, by root channel."""
    names: list[str] = []
    for replication in replications:
        names += [
            name
            for name, figures in replication.async_flows.items()
            if figures.started and name not in names
        ]
    windows = [r.window_s for r in replications]
    return {
        name: flow_document(
            name,
            [r.async_flows.get(name, FlowFigures()) for r in replications],
            windows,
        )
        for name in names
    }


def _mean(items: list[Any]) -> Any:
    first = items[0]
    if isinstance(first, dict):
        return {key: _mean([item[key] for item in items]) for key in first}
    if isinstance(first, list):
        return [_mean(list(column)) for column in zip(*items, strict=True)]
    if isinstance(first, bool) or isinstance(first, str):
        return first
    if any(item is None for item in items):
        return None
    mean = math.fsum(items) / len(items)
    return int(mean) if isinstance(first, int) and mean.is_integer() else mean


def channels_document(replications: list[ReplicationResult]) -> dict[str, Any]:
    """Return every channel's figures, averaged over replications."""
    first = replications[0].channels
    return {name: _mean([r.channels[name] for r in replications]) for name in first}


def async_document(replications: list[ReplicationResult]) -> dict[str, Any]:
    """Return ``async_flows`` and ``channels`` (empty without channels)."""
    return {
        "async_flows": flows_document(replications),
        "channels": channels_document(replications),
    }
