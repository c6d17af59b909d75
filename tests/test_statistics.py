"""Intervals, reliability flags, paired differences, MSER-5, time weighting."""

import math
import random

import pytest
from scipy import stats

from simulator.comparison import paired_difference, welch_half_width
from simulator.engine.warmup import BatchSeries, mser_statistics, mser_truncation
from simulator.metrics.timeweighted import InFlight, TimeWeighted
from simulator.reliability import (
    MAX_RELATIVE_HALF_WIDTH,
    min_requests_for,
    too_wide,
    unreliable_figures,
)
from simulator.results import estimate

# Intervals


def test_estimate_is_the_student_t_interval() -> None:
    found = estimate([1.0, 2.0, 3.0, 4.0])

    # sd = sqrt(5/3); t(0.975, 3) = 3.182446305...
    assert found.mean == 2.5
    assert found.half_width == pytest.approx(3.182446305284263 * 1.2909944 / 2)
    assert found.n == 4
    assert found.values == (1.0, 2.0, 3.0, 4.0)


def test_estimate_of_one_value_has_no_interval() -> None:
    found = estimate([7.0])

    assert (found.mean, found.half_width, found.n) == (7.0, None, 1)


def test_t_interval_covers_the_mean_about_95_percent_of_the_time() -> None:
    rng = random.Random(5)
    covered = 0
    trials = 2000
    for _ in range(trials):
        found = estimate([rng.gauss(10.0, 3.0) for _ in range(5)])
        assert found.half_width is not None
        covered += abs(found.mean - 10.0) <= found.half_width

    # Binomial(2000, 0.95): 3 standard deviations are about 1.5 %.
    assert 0.935 <= covered / trials <= 0.965


# Reliability


@pytest.mark.parametrize(
    ("key", "needed"),
    [("p50", 20), ("p90", 100), ("p95", 200), ("p99", 1000), ("p999", 10_000)],
)
def test_a_percentile_needs_ten_requests_beyond_it(key: str, needed: int) -> None:
    assert min_requests_for(key) == needed
    flagged = unreliable_figures({f"latency_s.{key}": (1.0, 0.0)}, [needed - 1])
    solid = unreliable_figures({f"latency_s.{key}": (1.0, 0.0)}, [needed, 10**6])

    assert flagged == [f"latency_s.{key}"]
    assert solid == []


def test_the_fewest_requests_of_any_replication_decide() -> None:
    figures = {"latency_s.p999": (0.3, 0.001)}

    assert unreliable_figures(figures, [50_000, 9_000, 50_000]) == ["latency_s.p999"]


def test_a_wide_interval_is_flagged_whatever_the_count() -> None:
    limit = MAX_RELATIVE_HALF_WIDTH
    figures = {
        "throughput_rps": (100.0, 100.0 * limit * 1.01),
        "goodput_rps": (100.0, 100.0 * limit * 0.99),
        "error_rate": (0.0, 0.0),
        "monthly_usd": (5.0, None),
    }

    assert unreliable_figures(figures, [10**6]) == ["throughput_rps"]
    assert too_wide(-10.0, 2.0)
    assert not too_wide(0.0, 2.0)


# Paired differences


def test_paired_difference_removes_what_both_share() -> None:
    rng = random.Random(11)
    shared = [rng.gauss(0.0, 10.0) for _ in range(10)]
    baseline = [100.0 + s for s in shared]
    other = [103.0 + s + rng.gauss(0.0, 0.1) for s in shared]

    found = paired_difference(other, baseline)

    assert found.mean == pytest.approx(3.0, abs=0.2)
    assert found.half_width is not None and found.unpaired_half_width is not None
    assert found.half_width < found.unpaired_half_width / 20
    assert found.significant
    assert found.relative == pytest.approx(found.mean / found.baseline_mean)


def test_welch_interval_matches_scipy() -> None:
    first = [1.0, 2.0, 4.0, 3.5]
    second = [2.0, 5.0, 7.0, 6.0, 4.0]
    result = stats.ttest_ind(second, first, equal_var=False)
    low, high = result.confidence_interval(0.95)

    assert welch_half_width(first, second) == pytest.approx((high - low) / 2)


def test_paired_difference_needs_the_same_replications() -> None:
    with pytest.raises(ValueError, match="same replications"):
        paired_difference([1.0, 2.0], [1.0])


# MSER-5


def test_mser_statistic_by_hand() -> None:
    series = [10.0, 1.0, 2.0, 1.0, 2.0, 1.0]

    values = mser_statistics(series)

    # d = 1: mean 1.4, squares 0.16 + 0.36 + 0.16 + 0.36 + 0.16 = 1.2, / 5^2.
    assert values[1] == pytest.approx(1.2 / 25)
    assert mser_truncation(series) == 1


def test_mser_cuts_an_initial_transient() -> None:
    rng = random.Random(3)
    transient = [50.0 * math.exp(-i / 40) + rng.gauss(10, 1) for i in range(200)]
    steady = [rng.gauss(10, 1) for _ in range(1800)]

    cut = mser_truncation(transient + steady)

    assert 80 <= cut <= 300


def test_mser_keeps_a_stationary_series_whole() -> None:
    rng = random.Random(4)

    assert mser_truncation([rng.gauss(10, 1) for _ in range(2000)]) < 100


def test_batch_series_keeps_memory_bounded_by_merging() -> None:
    series = BatchSeries(batch_size=5, max_batches=64)
    for request_id in range(1, 10_001):
        series.add(request_id, request_id * 0.01, 1.0)

    assert len(series.sums) <= 64
    assert series.batch_size == 5 * 2**5
    assert sum(series.counts) == 10_000
    assert series.first_start_s[1] == pytest.approx((series.batch_size + 1) * 0.01)


def test_batch_series_cut_is_at_the_first_request_of_a_batch() -> None:
    series = BatchSeries()
    rng = random.Random(8)
    for request_id in range(1, 5001):
        transient = 40.0 if request_id <= 500 else 0.0
        series.add(request_id, request_id * 0.1, transient + rng.expovariate(1.0))

    cut = series.cut()

    assert 450 <= cut.requests <= 700
    assert cut.requests % cut.batch_size == 0
    assert cut.time_s == pytest.approx((cut.requests + 1) * 0.1)
    assert not cut.at_limit


def test_a_series_that_never_settles_is_at_the_limit() -> None:
    series = BatchSeries()
    for request_id in range(1, 2001):
        series.add(request_id, float(request_id), float(request_id))

    assert series.cut().at_limit


def test_too_short_a_series_is_not_cut_and_says_so() -> None:
    series = BatchSeries()
    for request_id in range(1, 20):
        series.add(request_id, float(request_id), 1.0)

    cut = series.cut()

    assert (cut.requests, cut.time_s, cut.at_limit) == (0, 0.0, True)


# Time weighting


def test_time_weighted_average_stops_at_the_window_end() -> None:
    level = TimeWeighted()
    level.change(0.0, 3.0)
    level.start(10.0)
    level.change(12.0, -1.0)
    level.stop(20.0)
    level.change(25.0, 10.0)

    # 3 for 2 s, 2 for 8 s over 10 s; the change after the stop is not counted.
    assert level.average(100.0) == pytest.approx(2.2)
    assert level.area(100.0) == pytest.approx(22.0)
    assert level.level == 12.0
    assert level.peak == 3.0


def test_in_flight_counts_the_window_and_measured_requests_to_the_end() -> None:
    in_flight = InFlight()
    in_flight.change(1.0, 1, False)
    in_flight.start(2.0)
    in_flight.change(3.0, 1, True)
    in_flight.change(4.0, -1, False)
    in_flight.stop(6.0)
    in_flight.change(9.0, -1, True)

    # All: 1 on [2, 3), 2 on [3, 4), 1 on [4, 6). Measured: 1 on [3, 9).
    assert in_flight.area() == pytest.approx(1 + 2 + 2)
    assert in_flight.measured_area(9.0) == pytest.approx(6.0)
    assert (in_flight.level, in_flight.measured) == (0, 0)
