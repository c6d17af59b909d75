"""Results across replications: point estimates with 95 % intervals.

Every figure of a topology is computed in each replication; the report gives
the mean over replications and, with two or more, the half-width of a t-based
95 % confidence interval (Student's t from SciPy). Replications are independent
(their streams differ), so the interval is honest for the figure's long-run
value at these settings. That holds for every reported number: topology
figures, each latency percentile, and the numbers of each service and link.
Figures too uncertain to trust are flagged (:mod:`simulator.reliability`).
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
from simulator.reliability import unreliable_figures

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A mean over replications and the half-width of its 95 % interval.

    Attributes:
        mean: The mean of the per-replication values.
        half_width: Half the width of the t-interval; None with one replication.
        n: How many replications it rests on.
        values: The per-replication values, in replication order.
    """

    mean: float
    half_width: float | None
    n: int
    values: tuple[float, ...] = ()

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
        return Estimate(mean, None, n, tuple(values))
    sd = statistics.stdev(values)
    quantile = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))
    return Estimate(mean, quantile * sd / math.sqrt(n), n, tuple(values))


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
    unreliable: list[str] = field(default_factory=list)

    def flat_figures(self) -> dict[str, Estimate]:
        """Every topology figure by key, latency ones as ``latency_s.<key>``."""
        flat = dict(self.figures)
        flat.update({f"latency_s.{k}": v for k, v in self.latency.items()})
        return flat

    def littles_law(self) -> dict[str, Any] | None:
        """Little's law over the replications that drained, or None if none did.

        Returns L (time-average of measured requests in flight from the
        window's start to the end of the run), lambda and W averaged over
        those replications, and the largest relative gap |L - lambda W| / L
        of any one of them (zero up to rounding: it is an identity).
        """
        drained = [r.littles_law() for r in self.replications]
        triples = [t for t in drained if t is not None]
        if not triples:
            return None
        n = len(triples)
        return {
            "replications": n,
            "in_flight_mean": math.fsum(t[0] for t in triples) / n,
            "arrival_rate_rps": math.fsum(t[1] for t in triples) / n,
            "sojourn_mean_s": math.fsum(t[2] for t in triples) / n,
            "largest_relative_gap": max(
                abs(t[0] - t[1] * t[2]) / t[0] if t[0] else 0.0 for t in triples
            ),
        }

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

    def service_intervals(self) -> dict[str, dict[str, Any]]:
        """Each service's numbers' 95 % half-widths (None: one replication)."""
        return _interval_reports([r.services for r in self.replications])

    def hop_intervals(self) -> dict[str, dict[str, Any]]:
        """Each link's numbers' 95 % half-widths (None: one replication)."""
        return _interval_reports([r.hops for r in self.replications])


def _average_reports(
    reports: list[dict[str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    averaged: dict[str, dict[str, Any]] = {}
    for name, first in reports[0].items():
        averaged[name] = _average_values([report[name] for report in reports], first)
    return averaged


def _interval_reports(
    reports: list[dict[str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    intervals: dict[str, dict[str, Any]] = {}
    for name, first in reports[0].items():
        found = _interval_values([report[name] for report in reports], first)
        intervals[name] = found if isinstance(found, dict) else {}
    return intervals


def _interval_values(items: list[Any], first: Any) -> Any:
    # The same walk as _average_values, keeping only numbers' half-widths.
    if isinstance(first, dict):
        keys = list(first)
        for item in items[1:]:
            keys += [k for k in item if k not in keys]
        found = {
            k: _interval_values([i.get(k, 0) for i in items], first.get(k, 0))
            for k in keys
        }
        return {k: v for k, v in found.items() if v is not _NOT_A_NUMBER}
    if isinstance(first, bool) or not isinstance(first, int | float):
        return _NOT_A_NUMBER
    numbers = [float(i) for i in items if isinstance(i, int | float)]
    return estimate(numbers).half_width


_NOT_A_NUMBER = object()


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
    bases: list[MonthBasis] | None = None,
) -> TopologySummary:
    """Combine a topology's replications into estimates with intervals.

    Args:
        name: The topology.
        description: Its description.
        replications: Its replications, in order.
        costs: Each replication's priced month.
        basis: How the month is extrapolated, as reported.
        bases: Each replication's own basis (closed-loop users: the month's
            volume follows the measured rate); default ``basis`` for all.
    """
    summary = TopologySummary(name, description, replications, costs, basis)
    volumes = [b.monthly_requests for b in bases or [basis] * len(replications)]

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
        "per_million_requests_usd": estimate(
            [
                c.monthly_usd / volume * 1e6 if volume else 0.0
                for c, volume in zip(costs, volumes, strict=True)
            ]
        ),
        "in_flight_mean": per_replication(lambda r, c: r.in_flight_mean),
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

    # Flag what is too uncertain, by the rules of simulator.reliability.
    summary.unreliable = unreliable_figures(
        {k: (v.mean, v.half_width) for k, v in summary.flat_figures().items()},
        [r.latency.count for r in replications],
    )
    if any(r.warmup_cut is not None and r.warmup_cut.at_limit for r in replications):
        summary.unreliable.append("warmup_s")
    return summary
