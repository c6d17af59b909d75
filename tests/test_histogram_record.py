"""LatencyHistogram.record finds its counter inline: it must match HdrHistogram."""

import random

import pytest
from hdrh.histogram import HdrHistogram

from simulator.metrics.histogram import (
    _HIGHEST_US,
    _LOWEST_US,
    SIGNIFICANT_DIGITS,
    LatencyHistogram,
)

# Whole microseconds up to 2**30 (18 minutes) survive the trip through
# seconds exactly, whatever rounding ``record`` applies; the range's top is
# checked on its own below.
_EXACT_US = 1 << 30


def _edge_micros() -> list[int]:
    # Bucket boundaries: powers of two and their neighbours.
    edges = [1, 2, 3]
    for power in range(10, 31):
        edges += [(1 << power) - 1, 1 << power, (1 << power) + 1]
    return [value for value in edges if value <= _EXACT_US]


def _random_micros(count: int) -> list[int]:
    # Latencies from 1 us to minutes, spread over every bucket on the way.
    rng = random.Random(7)
    values = [int(rng.lognormvariate(8.0, 4.0)) for _ in range(count)]
    return [min(max(value, _LOWEST_US), _EXACT_US) for value in values]


@pytest.mark.parametrize(
    "micros", [_edge_micros(), _random_micros(20_000)], ids=["edges", "random"]
)
def test_record_fills_the_counters_record_value_would(micros: list[int]) -> None:
    histogram = LatencyHistogram()
    reference = HdrHistogram(_LOWEST_US, _HIGHEST_US, SIGNIFICANT_DIGITS)

    for value in micros:
        histogram.record(value / 1e6)
        reference.record_value(value)

    inner = histogram._histogram
    assert list(inner.counts) == list(reference.counts)
    assert inner.total_count == reference.total_count == len(micros)
    assert inner.min_value == reference.min_value
    assert inner.max_value == reference.max_value
    assert inner.encode() == reference.encode()
    for percent in (50.0, 90.0, 99.0, 99.9):
        assert inner.get_value_at_percentile(
            percent
        ) == reference.get_value_at_percentile(percent)


def test_out_of_range_values_are_clamped_to_the_range_ends() -> None:
    histogram = LatencyHistogram()
    histogram.record(0.0)
    histogram.record(1e9)
    reference = HdrHistogram(_LOWEST_US, _HIGHEST_US, SIGNIFICANT_DIGITS)
    reference.record_value(_LOWEST_US)
    reference.record_value(_HIGHEST_US)

    inner = histogram._histogram
    assert list(inner.counts) == list(reference.counts)
    assert inner.total_count == 2
    assert inner.min_value == _LOWEST_US
    assert inner.max_value == _HIGHEST_US
    assert histogram.max_s == 1e9
    assert histogram.min_s == 0.0
