"""Paired differences between topologies, with their intervals.

Replication r of every topology uses the same random streams: the same
arrivals and, for corresponding components, the same per-request work
(common random numbers, :mod:`simulator.engine.crn`). A figure's difference
between two topologies is therefore taken replication by replication, and the
t-based 95 % interval is computed over those paired differences. Positive
correlation between the two topologies' figures makes this interval much
narrower than the one for the difference of two independent estimates, which
is reported beside it (Welch's interval over the same replications, as if the
runs had been independent) so the gain can be seen.
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from simulator.results import CONFIDENCE, TopologySummary, estimate


@dataclass(frozen=True)
class Difference:
    """One figure of a topology minus the same figure of the baseline.

    Attributes:
        mean: The mean of the per-replication differences.
        half_width: Half-width of the paired 95 % t-interval; None with one
            replication.
        unpaired_half_width: Half-width of Welch's 95 % interval for the
            difference of two independent means; None with one replication.
        baseline_mean: The baseline's mean, for relative differences.
    """

    mean: float
    half_width: float | None
    unpaired_half_width: float | None
    baseline_mean: float

    @property
    def relative(self) -> float | None:
        """The difference as a fraction of the baseline (None if zero)."""
        return self.mean / self.baseline_mean if self.baseline_mean else None

    @property
    def significant(self) -> bool:
        """True if the paired interval excludes zero."""
        return self.half_width is not None and abs(self.mean) > self.half_width


def welch_half_width(first: Sequence[float], second: Sequence[float]) -> float | None:
    """Return the 95 % half-width of ``mean(second) - mean(first)``, unpaired."""
    n1, n2 = len(first), len(second)
    if n1 < 2 or n2 < 2:
        return None
    v1 = statistics.variance(first) / n1
    v2 = statistics.variance(second) / n2
    if v1 + v2 == 0:
        return 0.0

    # Welch-Satterthwaite degrees of freedom.
    dof = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    quantile = float(stats.t.ppf(0.5 + CONFIDENCE / 2, dof))
    return quantile * math.sqrt(v1 + v2)


def paired_difference(values: Sequence[float], baseline: Sequence[float]) -> Difference:
    """Return ``values - baseline`` replication by replication, with intervals.

    Raises:
        ValueError: The two have different numbers of replications.
    """
    if len(values) != len(baseline):
        raise ValueError("paired figures need the same replications")
    differences = [v - b for v, b in zip(values, baseline, strict=True)]
    paired = estimate(differences)
    return Difference(
        mean=paired.mean,
        half_width=paired.half_width,
        unpaired_half_width=welch_half_width(baseline, values),
        baseline_mean=math.fsum(baseline) / len(baseline) if baseline else 0.0,
    )


@dataclass(frozen=True)
class Comparison:
    """Every figure of one topology against the baseline, paired.

    Attributes:
        topology: The topology compared.
        baseline: The topology it is compared with (the scenario's first).
        differences: Each figure's difference, keyed like
            :meth:`TopologySummary.flat_figures`.
    """

    topology: str
    baseline: str
    differences: dict[str, Difference]


def compare(summaries: Sequence[TopologySummary]) -> list[Comparison]:
    """Compare every topology after the first with the first, paired."""
    if not summaries:
        return []
    baseline = summaries[0]
    base = baseline.flat_figures()
    comparisons = []
    for summary in summaries[1:]:
        differences = {
            key: paired_difference(value.values, base[key].values)
            for key, value in summary.flat_figures().items()
            if key in base
        }
        comparisons.append(Comparison(summary.name, baseline.name, differences))
    return comparisons
