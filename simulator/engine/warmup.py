"""Automatic warm-up: MSER-5 on the latencies of one replication.

``run.warmup: auto`` chooses, per replication, how much of the start of the
run to discard, with the MSER-5 rule (White 1997; White, Cobb and Spratt
2000; recommended by Hoad, Robinson and Davies 2010 among 44 warm-up rules):

1. Take the latency of each successful request in arrival order and average
   it in batches of 5 consecutive arrivals: the series ``Z_1 .. Z_m``.
2. For each candidate cut ``d`` in the first half of the series
   (``0 <= d <= m / 2``) compute the MSER statistic
   ``sum((Z_j - mean(Z_d+1 .. Z_m))**2 for j > d) / (m - d)**2``, the squared
   standard error of the mean that remains after the cut.
3. Keep the ``d`` that minimises it: the cut is at the first request of batch
   ``d + 1``. A minimum at the end of the first half means the rule found no
   steady state: the run is too short, and the report flags it.

Memory stays bounded: the series holds at most ``MAX_BATCHES`` batch means;
when a run has more batches, neighbouring batches are merged in pairs and the
batch size doubles (5, 10, 20, ...), so a cut is placed to within one batch,
at most 1 / ``MAX_BATCHES`` of the run.

Using the cut: the replication is first run as a pilot with no warm-up while
the series is collected; the cut is chosen; then the same replication (same
streams, hence the same sample path) is run again with the cut's arrival time
as a fixed warm-up, so every figure (counts, latency, time-weighted averages,
meters) comes from the same requests. A cut of zero reuses the pilot. An
automatic warm-up thus costs up to about twice the simulation time.
"""

import math
from dataclasses import dataclass

BATCH_SIZE = 5
MAX_BATCHES = 8192
MIN_BATCHES = 10


@dataclass(frozen=True)
class WarmupCut:
    """The warm-up MSER-5 chose for one replication.

    Attributes:
        requests: Arrivals discarded before the first measured one.
        time_s: Arrival time of the first measured request: the warm-up.
        batch_size: Arrivals per batch mean when the cut was chosen.
        batches: Batch means in the series.
        at_limit: True if the cut is at the end of the searched first half
            (or the series was too short): no steady state was found.
    """

    requests: int
    time_s: float
    batch_size: int
    batches: int
    at_limit: bool


class BatchSeries:
    """Latencies of requests in arrival order, kept as bounded batch means."""

    def __init__(
        self, batch_size: int = BATCH_SIZE, max_batches: int = MAX_BATCHES
    ) -> None:
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.sums: list[float] = []
        self.counts: list[int] = []
        self.first_start_s: list[float] = []

    def add(self, request_id: int, start_s: float, latency_s: float | None) -> None:
        """Add a finished request (arrival index from 1); None if it failed.

        A failed request adds no latency but still dates its batch.
        """
        index = request_id - 1
        batch = index // self.batch_size
        while batch >= self.max_batches:
            self._merge_pairs()
            batch = index // self.batch_size

        missing = batch + 1 - len(self.sums)
        if missing > 0:
            self.sums.extend([0.0] * missing)
            self.counts.extend([0] * missing)
            self.first_start_s.extend([math.inf] * missing)
        if latency_s is not None:
            self.sums[batch] += latency_s
            self.counts[batch] += 1
        if start_s < self.first_start_s[batch]:
            self.first_start_s[batch] = start_s

    def _merge_pairs(self) -> None:
        # Twice the batch size, half the batches: memory stays bounded.
        pairs = range(0, len(self.sums), 2)
        self.sums = [sum(self.sums[i : i + 2]) for i in pairs]
        self.counts = [sum(self.counts[i : i + 2]) for i in pairs]
        self.first_start_s = [min(self.first_start_s[i : i + 2]) for i in pairs]
        self.batch_size *= 2

    def cut(self) -> WarmupCut:
        """Choose the warm-up with MSER-5 over the series collected so far."""
        # The last batch may be incomplete (the window ended inside it).
        positions = [i for i, n in enumerate(self.counts[:-1]) if n > 0]
        means = [self.sums[i] / self.counts[i] for i in positions]
        if len(means) < MIN_BATCHES:
            return WarmupCut(0, 0.0, self.batch_size, len(means), True)

        chosen = mser_truncation(means)
        position = positions[chosen] if chosen else 0
        return WarmupCut(
            requests=position * self.batch_size,
            time_s=self.first_start_s[position] if chosen else 0.0,
            batch_size=self.batch_size,
            batches=len(means),
            at_limit=chosen >= len(means) // 2,
        )


def mser_statistics(series: list[float]) -> list[float]:
    """Return MSER(d) for every cut ``d`` of the first half of ``series``."""
    m = len(series)
    centre = math.fsum(series) / m
    shifted = [z - centre for z in series]

    # Suffix sums from the end, so every MSER(d) costs O(1).
    total = 0.0
    squares = 0.0
    suffix: list[tuple[float, float]] = [(0.0, 0.0)] * (m + 1)
    for j in range(m - 1, -1, -1):
        total += shifted[j]
        squares += shifted[j] * shifted[j]
        suffix[j] = (total, squares)

    statistics = []
    for d in range(m // 2 + 1):
        n = m - d
        s1, s2 = suffix[d]
        statistics.append(max(s2 - s1 * s1 / n, 0.0) / (n * n))
    return statistics


def mser_truncation(series: list[float]) -> int:
    """Return the cut ``d`` (in items) minimising MSER over the first half."""
    values = mser_statistics(series)
    return min(range(len(values)), key=values.__getitem__)
