"""Results across replications: point estimates with 95 % intervals.

Every figure of a topology is computed in each replication; the report gives
the mean over replications and, with two or more, the half-width of a t-based
95 % confidence interval (Student's t from SciPy). Replications are independent
(their streams differ), so the interval is honest for the figure's long-run
value at these settings.
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from simulator.engine.runtime import ERROR_CAUSES
from simulator.engine.simulation import ReplicationResult
from simulator.metrics.histogram import PERCENTILES, LatencyHistogram
from simulator.pricing.cost import CostBreakdown, CostLine
from simulator.pricing.monthly import MonthBasis

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A mean over replications and the half-width of its 95 % interval.

    Attributes:
        mean: The mean of the per-replication values.
        half_width: Half the width of the t-interval; None with one replication.
        n: How many replications it rests on.
    """

    mean: float
    half_width: float | None
    n: int

    @property
    def relative_half_width(self) -> float | None:
        """The half-width as a fraction of the mean (None if undefined)."""
        if self.half_width is None or self.mean == 0:
            return None
        return self.half_width / abs(self.mean)


def estimate(values: Sequence[float]) -> Estimate:
    """Return the mean of ``values`` and its t-based 95 % half-width."""
    n = len(values)
    mean = math.fsum(values) / n if n else 0.0
    if n < 2:
        return Estimate(mean, None, n)
    sd = statistics.stdev(values)
    quantile = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))
    return Estimate(mean, quantile * sd / math.sqrt(n), n)


@dataclass
class TopologySummary:
    """Everything reported for one topology."""

    name: str
    description: str | None
    replications: list[ReplicationResult]
    costs: list[CostBreakdown]
    basis: MonthBasis
    figures: dict[str, Estimate] = field(default_factory=dict)
    latency: dict[str, Estimate] = field(default_factory=dict)
    pooled_latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    @property
    def arrived(self) -> int:
        """Measured arrivals, over all replications."""
        return sum(r.arrived for r in self.replications)

    @property
    def succeeded(self) -> int:
        """Successful measured requests, over all replications."""
        return sum(r.succeeded for r in self.replications)

    @property
    def in_flight(self) -> int:
        """Measured requests unfinished at the end, over all replications."""
        return sum(r.in_flight for r in self.replications)

    @property
    def errors(self) -> dict[str, int]:
        """Failed measured requests by cause, over all replications."""
        return {c: sum(r.errors[c] for r in self.replications) for c in ERROR_CAUSES}

    def cost_lines(self) -> list[CostLine]:
        """Return the cost breakdown averaged over replications, line by line."""
        first = self.costs[0].lines
        n = len(self.costs)
        averaged = []
        for index, line in enumerate(first):
            quantity = math.fsum(c.lines[index].quantity for c in self.costs) / n
            usd = math.fsum(c.lines[index].usd for c in self.costs) / n
            free = math.fsum(c.lines[index].free_units for c in self.costs) / n
            averaged.append(
                CostLine(
                    line.component,
                    line.meter,
                    quantity,
                    line.unit,
                    usd / quantity if quantity else 0.0,
                    usd,
                    free,
                    line.source,
                    line.date,
                    line.verified,
                    line.overridden,
                )
            )
        return averaged

    def service_figures(self) -> dict[str, dict[str, Any]]:
        """Each service's figures, numbers averaged over replications."""
        return _average_reports([r.services for r in self.replications])

    def hop_figures(self) -> dict[str, dict[str, Any]]:
        """Each link's figures, numbers averaged over replications."""
        return _average_reports([r.hops for r in self.replications])


def _average_reports(
    reports: list[dict[str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    averaged: dict[str, dict[str, Any]] = {}
    for name, first in reports[0].items():
        averaged[name] = _average_values([report[name] for report in reports], first)
    return averaged


def _average_values(items: list[Any], first: Any) -> Any:
    if isinstance(first, dict):
        keys = list(first)
        for item in items[1:]:
            keys += [k for k in item if k not in keys]
        return {
            k: _average_values([i.get(k, 0) for i in items], first.get(k, 0))
            for k in keys
        }
    if isinstance(first, bool) or not isinstance(first, int | float):
        return first
    mean = math.fsum(items) / len(items)
    return int(mean) if isinstance(first, int) and mean.is_integer() else mean


def summarise(
    name: str,
    description: str | None,
    replications: list[ReplicationResult],
    costs: list[CostBreakdown],
    basis: MonthBasis,
) -> TopologySummary:
    """Combine a topology's replications into estimates with intervals."""
    summary = TopologySummary(name, description, replications, costs, basis)

    def per_replication(value: Any) -> Estimate:
        return estimate(
            [float(value(r, c)) for r, c in zip(replications, costs, strict=True)]
        )

    summary.figures = {
        "offered_rps": per_replication(lambda r, c: r.arrived / r.window_s),
        "throughput_rps": per_replication(
            lambda r, c: r.completed_in_window / r.window_s
        ),
        "goodput_rps": per_replication(lambda r, c: r.succeeded_in_window / r.window_s),
        "error_rate": per_replication(
            lambda r, c: sum(r.errors.values()) / r.arrived if r.arrived else 0.0
        ),
        "monthly_usd": per_replication(lambda r, c: c.monthly_usd),
        "per_million_requests_usd": per_replication(
            lambda r, c: c.monthly_usd / basis.monthly_requests * 1e6
        ),
    }

    for key, percent in PERCENTILES:
        summary.latency[key] = per_replication(
            lambda r, c, p=percent: r.latency.percentile(p)
        )
    summary.latency["max"] = per_replication(
        lambda r, c: r.latency.max_s if r.latency.count else 0.0
    )
    summary.latency["mean"] = per_replication(lambda r, c: r.latency.mean_s)

    for replication in replications:
        summary.pooled_latency.merge(replication.latency)
    return summary
