"""Which figures are too uncertain to print as if they were solid.

A figure is flagged *unreliable* by either of two rules:

1. **Too few tail samples.** A percentile p of latency rests on the requests
   beyond it: with n successful requests in a replication there are about
   ``n x (1 - p)`` of them. Fewer than ``MIN_TAIL_SAMPLES`` (10) in any
   replication and the percentile is flagged, so p99.9 needs at least
   10 / (1 - 0.999) = 10,000 successful requests per replication, p99 1,000,
   p50 20. The mean needs ``MIN_TAIL_SAMPLES`` requests too.
2. **A wide interval.** A figure whose 95 % half-width is more than
   ``MAX_RELATIVE_HALF_WIDTH`` (10 %) of its mean is flagged, whatever the
   sample count. A figure whose mean is zero (no errors at all) has no
   relative width and is not flagged by this rule. With one replication there
   is no interval, so only rule 1 applies.

The automatic warm-up adds ``warmup_s`` when MSER-5 found no steady state in
some replication (its cut fell at the end of the searched half).
"""

from collections.abc import Mapping, Sequence

from simulator.metrics.histogram import PERCENTILES

MIN_TAIL_SAMPLES = 10
MAX_RELATIVE_HALF_WIDTH = 0.10

RULE = (
    f"fewer than {MIN_TAIL_SAMPLES} requests beyond a percentile in a replication "
    f"(p99.9: fewer than {round(MIN_TAIL_SAMPLES / 0.001):,} requests), or a 95 % "
    f"half-width above {MAX_RELATIVE_HALF_WIDTH * 100:.0f} % of the value"
)
"""The rule in words, for reports."""

_TAIL_FRACTIONS = {key: 1.0 - percent / 100.0 for key, percent in PERCENTILES}


def min_requests_for(key: str) -> int:
    """Return the successful requests per replication a latency key needs."""
    fraction = _TAIL_FRACTIONS.get(key)
    if fraction is None:
        return MIN_TAIL_SAMPLES if key == "mean" else 1
    return round(MIN_TAIL_SAMPLES / fraction)


def too_wide(mean: float, half_width: float | None) -> bool:
    """Return True if a half-width is wider than the threshold of its mean."""
    if half_width is None or mean == 0:
        return False
    return half_width > MAX_RELATIVE_HALF_WIDTH * abs(mean)


def unreliable_figures(
    intervals: Mapping[str, tuple[float, float | None]],
    successes_per_replication: Sequence[int],
) -> list[str]:
    """Return the keys of the figures either rule flags, in the given order.

    Args:
        intervals: Each figure's key (latency under ``latency_s.<key>``) and
            its mean and half-width.
        successes_per_replication: Successful measured requests of each
            replication, behind the latency figures.
    """
    fewest = min(successes_per_replication, default=0)
    flagged = []
    for key, (mean, half_width) in intervals.items():
        if key.startswith("latency_s."):
            if fewest < min_requests_for(key.removeprefix("latency_s.")):
                flagged.append(key)
                continue
        if too_wide(mean, half_width):
            flagged.append(key)
    return flagged
