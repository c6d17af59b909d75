"""Latency histograms of bounded memory.

Latencies are recorded in an HdrHistogram (the ``hdrhistogram`` package) in
whole microseconds, rounded up, with three significant digits. The memory of a
histogram is fixed by its range, not by how many values it holds, so a run of
10 M requests takes no more memory than one of 1 M.

Percentile method: the nearest-rank percentile of the recorded values (the
smallest value with at least p % of the values at or below it), reported as
the upper bound of its histogram bucket. With three significant digits a bucket
is at most 0.1 % wide, so a reported percentile is at most 0.1 % (plus 1 us of
rounding up) above the exact nearest-rank percentile of the samples, never
below, and never outside the smallest and largest sample.
The mean and the maximum are kept exactly, beside the histogram.
"""

import base64
import math
import zlib

from hdrh.histogram import HdrHistogram

# 1 us to 10 days: beyond any request a scenario can describe.
_LOWEST_US = 1
_HIGHEST_US = 10 * 24 * 3600 * 1_000_000
SIGNIFICANT_DIGITS = 3
RELATIVE_ERROR = 10.0**-SIGNIFICANT_DIGITS

# The bucket layout of such a histogram, read once: ``record`` finds a value's
# counter with it directly, as ``HdrHistogram.record_value`` does in five
# Python calls (a hop records a latency per call, so this is a hot path).
_LAYOUT = HdrHistogram(_LOWEST_US, _HIGHEST_US, SIGNIFICANT_DIGITS)
_UNIT_MAGNITUDE: int = _LAYOUT.unit_magnitude
_SUB_BUCKET_MASK: int = _LAYOUT.sub_bucket_mask
_HALF_COUNT: int = _LAYOUT.sub_bucket_half_count
_HALF_COUNT_MAGNITUDE: int = _LAYOUT.sub_bucket_half_count_magnitude
_BUCKET_OFFSET = _UNIT_MAGNITUDE + _HALF_COUNT_MAGNITUDE + 1
del _LAYOUT

PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p95", 95.0),
    ("p99", 99.0),
    ("p999", 99.9),
)


class LatencyHistogram:
    """Records durations in seconds; answers percentiles, mean and max."""

    __slots__ = ("_histogram", "count", "total_s", "max_s", "min_s")

    def __init__(self) -> None:
        self._histogram = HdrHistogram(_LOWEST_US, _HIGHEST_US, SIGNIFICANT_DIGITS)
        self.count = 0
        self.total_s = 0.0
        self.max_s = 0.0
        self.min_s = math.inf

    def record(self, seconds: float) -> None:
        """Record one duration, in seconds."""
        self.count += 1
        self.total_s += seconds
        if seconds > self.max_s:
            self.max_s = seconds
        if seconds < self.min_s:
            self.min_s = seconds
        # Rounded up (bar float noise), so no percentile falls below a sample.
        micros = math.ceil(seconds * 1e6 - 1e-6)
        if micros < _LOWEST_US:
            micros = _LOWEST_US
        elif micros > _HIGHEST_US:
            micros = _HIGHEST_US

        # The counter record_value would add to (tests/test_histogram_record.py).
        bucket = (micros | _SUB_BUCKET_MASK).bit_length() - _BUCKET_OFFSET
        index = (
            ((bucket + 1) << _HALF_COUNT_MAGNITUDE)
            + (micros >> (bucket + _UNIT_MAGNITUDE))
            - _HALF_COUNT
        )
        histogram = self._histogram
        histogram.counts[index] += 1
        histogram.total_count += 1
        if micros < histogram.min_value:
            histogram.min_value = micros
        if micros > histogram.max_value:
            histogram.max_value = micros

    def merge(self, other: "LatencyHistogram") -> None:
        """Add every value recorded in ``other`` to this histogram."""
        if other.count == 0:
            return
        self._histogram.add(other._histogram)
        self.count += other.count
        self.total_s += other.total_s
        self.max_s = max(self.max_s, other.max_s)
        self.min_s = min(self.min_s, other.min_s)

    def percentile(self, percent: float) -> float:
        """Return the nearest-rank percentile in seconds (0 when empty)."""
        if self.count == 0:
            return 0.0
        value_us = self._histogram.get_value_at_percentile(percent)
        if percent >= 100:
            return self.max_s
        return max(min(float(value_us) / 1e6, self.max_s), self.min_s)

    @property
    def mean_s(self) -> float:
        """The exact mean of the recorded values (0 when empty)."""
        return self.total_s / self.count if self.count else 0.0

    def summary(self) -> dict[str, float]:
        """Return p50 to p99.9, max and mean, in seconds."""
        result = {name: self.percentile(percent) for name, percent in PERCENTILES}
        result["max"] = self.max_s if self.count else 0.0
        result["mean"] = self.mean_s
        return result

    def __getstate__(self) -> dict[str, object]:
        encoded = self._histogram.encode() if self.count else b""
        return {
            "histogram": base64.b64encode(zlib.compress(encoded)).decode(),
            "count": self.count,
            "total_s": self.total_s,
            "max_s": self.max_s,
            "min_s": self.min_s,
        }

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__()  # type: ignore[misc]
        encoded = zlib.decompress(base64.b64decode(str(state["histogram"])))
        if encoded:
            self._histogram = HdrHistogram.decode(encoded)
        self.count = int(state["count"])  # type: ignore[call-overload]
        self.total_s = float(state["total_s"])  # type: ignore[arg-type]
        self.max_s = float(state["max_s"])  # type: ignore[arg-type]
        self.min_s = float(state["min_s"])  # type: ignore[arg-type]
