"""Samplers against their mean and variance, and the named random streams.

Both kinds of sampler are checked: the sequential one (``make_sampler``, a
``random.Random`` stream) and the per-request one (``make_request_sampler``,
common random numbers keyed by request). Each draws N = 200,000 values from a
seeded stream. The sample mean
must be within 5 standard errors (sd / sqrt(N)) of the true mean, and the
sample variance within 5 standard errors of the true variance, the latter
estimated from the sample's fourth central moment: sqrt((m4 - s^4) / N).
"""

import math
import random
import statistics
from collections import Counter

import pytest
from pydantic import TypeAdapter, ValidationError
from scipy import stats

from simulator.engine.crn import make_request_sampler
from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.runtime import Request
from simulator.engine.streams import Streams, stream_seed
from simulator.scenario.base import (
    Constant,
    DistributionConfig,
    Lognormal,
    distribution_mean,
    distribution_minimum,
)

N = 200_000
Z = 5.0

DISTRIBUTION = TypeAdapter(DistributionConfig)


def config(value: object) -> DistributionConfig:
    """Read a distribution as a scenario file writes it."""
    return DISTRIBUTION.validate_python(value)


SAMPLERS = ["stream", "request"]


def draw(value: object, kind: str, seed: int = 1, n: int = N) -> list[float]:
    """Draw n values: from one stream, or the first draw of n requests."""
    if kind == "stream":
        sample = make_sampler(config(value), random.Random(seed))
        return [sample() for _ in range(n)]
    by_request = make_request_sampler(config(value), seed)
    return [by_request(Request(i, 0.0, True)) for i in range(1, n + 1)]


parametrize_samplers = pytest.mark.parametrize("kind", SAMPLERS)


def assert_moments(values: list[float], mean: float, variance: float) -> None:
    """Sample mean and variance within Z standard errors of the true ones."""
    n = len(values)
    sample_mean = math.fsum(values) / n
    deviations = [(v - sample_mean) ** 2 for v in values]
    sample_variance = math.fsum(deviations) / (n - 1)
    fourth = math.fsum(d * d for d in deviations) / n

    mean_error = math.sqrt(variance / n)
    variance_error = math.sqrt(max(fourth - sample_variance**2, 0.0) / n)
    assert abs(sample_mean - mean) <= Z * mean_error, (sample_mean, mean)
    assert abs(sample_variance - variance) <= Z * variance_error, (
        sample_variance,
        variance,
    )


def test_constant_is_exact_and_draws_nothing() -> None:
    rng = random.Random(3)
    state = rng.getstate()
    sample = make_sampler(config("250ms"), rng)
    assert {sample() for _ in range(100)} == {0.25}
    assert rng.getstate() == state


@parametrize_samplers
def test_exponential(kind: str) -> None:
    values = draw({"kind": "exponential", "mean": "100ms"}, kind)
    assert min(values) >= 0
    assert_moments(values, 0.1, 0.01)


@parametrize_samplers
def test_exponential_with_zero_mean_is_zero(kind: str) -> None:
    assert set(draw({"kind": "exponential", "mean": 0}, kind, n=10)) == {0.0}


@parametrize_samplers
def test_uniform(kind: str) -> None:
    values = draw({"kind": "uniform", "low": "10ms", "high": "30ms"}, kind)
    assert 0.01 <= min(values) and max(values) <= 0.03
    assert_moments(values, 0.02, 0.02**2 / 12)


@parametrize_samplers
def test_lognormal_by_mean_and_sd(kind: str) -> None:
    values = draw({"kind": "lognormal", "mean": "300ms", "sd": "150ms"}, kind)
    assert_moments(values, 0.3, 0.15**2)


@parametrize_samplers
def test_lognormal_by_p50_and_p99_hits_both_percentiles(kind: str) -> None:
    p50, p99 = 0.130, 0.260
    written = {"kind": "lognormal", "p50": "130ms", "p99": "260ms"}
    values = sorted(draw(written, kind))

    # The standard error of a sample quantile q is sqrt(q (1-q) / N) / f(x_q).
    mu, sigma = config(written).mu_sigma()
    fitted = stats.lognorm(s=sigma, scale=math.exp(mu))
    for q, expected in ((0.5, p50), (0.99, p99)):
        assert fitted.ppf(q) == pytest.approx(expected, rel=1e-12)
        error = math.sqrt(q * (1 - q) / N) / fitted.pdf(expected)
        assert abs(values[int(q * N)] - expected) <= Z * error

    assert_moments(values, fitted.mean(), fitted.var())
    assert distribution_mean(config(written)) == pytest.approx(fitted.mean())


@parametrize_samplers
def test_empirical_draws_each_value_equally_often(kind: str) -> None:
    measured = ["10ms", "20ms", "20ms", "90ms"]
    values = draw({"kind": "empirical", "values": measured}, kind)
    population = [0.01, 0.02, 0.02, 0.09]
    assert_moments(
        values, statistics.fmean(population), statistics.pvariance(population)
    )

    # Each written value has probability 1/4; a duplicate counts twice.
    counts = Counter(values)
    assert set(counts) == {0.01, 0.02, 0.09}
    chi2 = stats.chisquare(
        [counts[0.01], counts[0.02], counts[0.09]], [N / 4, N / 2, N / 4]
    )
    assert chi2.pvalue > 1e-4


@pytest.mark.parametrize(
    "written",
    [
        "42ms",
        {"kind": "exponential", "mean": "42ms"},
        {"kind": "uniform", "low": "2ms", "high": "82ms"},
        {"kind": "lognormal", "mean": "42ms", "sd": "80ms"},
        {"kind": "empirical", "values": ["2ms", "40ms", "84ms"]},
    ],
)
def test_distribution_mean_is_the_mean_drawn(written: object) -> None:
    assert distribution_mean(config(written)) == pytest.approx(0.042, rel=1e-12)


def test_distribution_minimum() -> None:
    assert distribution_minimum(config("5ms")) == 0.005
    assert distribution_minimum(config({"kind": "uniform", "low": 1, "high": 2})) == 1
    assert distribution_minimum(config({"kind": "empirical", "values": [3, 2]})) == 2
    assert distribution_minimum(config({"kind": "exponential", "mean": 1})) == 0


def test_is_zero() -> None:
    assert is_zero(config(0))
    assert not is_zero(config("1ns"))
    assert not is_zero(config({"kind": "exponential", "mean": 0}))


@pytest.mark.parametrize(
    "written",
    [
        {"kind": "lognormal", "p50": "1s"},
        {"kind": "lognormal", "mean": "1s", "sd": "1s", "p99": "2s"},
        {"kind": "lognormal", "p50": "2s", "p99": "1s"},
        {"kind": "lognormal", "mean": 0, "sd": "1s"},
        {"kind": "uniform", "low": "2s", "high": "1s"},
        {"kind": "empirical", "values": []},
        {"kind": "exponential", "mean": "-1s"},
    ],
)
def test_impossible_distributions_are_refused(written: object) -> None:
    with pytest.raises(ValidationError):
        config(written)


def test_lognormal_forms_agree() -> None:
    # The same distribution written by its moments and by its percentiles.
    by_moments = Lognormal(kind="lognormal", mean=0.3, sd=0.15)
    mu, sigma = by_moments.mu_sigma()
    p99 = math.exp(mu + sigma * stats.norm.ppf(0.99))
    by_percentiles = Lognormal(kind="lognormal", p50=math.exp(mu), p99=p99)
    assert by_percentiles.mu_sigma() == pytest.approx((mu, sigma), rel=1e-9)


# Streams


def test_same_name_same_numbers_in_a_fresh_replication() -> None:
    first = Streams(7, 0).get("service/orders/step0")
    again = Streams(7, 0).get("service/orders/step0")
    assert [first.random() for _ in range(5)] == [again.random() for _ in range(5)]


def test_a_stream_is_made_once() -> None:
    streams = Streams(7, 0)
    assert streams.get("arrivals") is streams.get("arrivals")


@pytest.mark.parametrize(
    "other", [(8, 0, "arrivals"), (7, 1, "arrivals"), (7, 0, "arrivals2")]
)
def test_seed_replication_and_name_each_change_the_numbers(
    other: tuple[int, int, str],
) -> None:
    base = Streams(7, 0).get("arrivals")
    seed, replication, name = other
    changed = Streams(seed, replication).get(name)
    assert [base.random() for _ in range(3)] != [changed.random() for _ in range(3)]
    assert stream_seed(7, 0, "arrivals") != stream_seed(seed, replication, name)


def test_adding_a_stream_does_not_shift_another() -> None:
    alone = Streams(7, 0)
    crowded = Streams(7, 0)
    crowded.get("service/new/step0").random()
    assert alone.get("arrivals").random() == crowded.get("arrivals").random()


def test_stream_seed_is_64_bits() -> None:
    seeds = {stream_seed(1, r, f"s{i}") for r in range(10) for i in range(100)}
    assert len(seeds) == 1000
    assert all(0 <= s < 2**64 for s in seeds)


def test_a_request_draws_the_same_work_in_every_topology() -> None:
    # Two samplers of one stream (one per topology) give request 17 the same
    # first draw; its second draw from the stream is a fresh number.
    written = config({"kind": "exponential", "mean": "100ms"})
    seed = Streams(7, 0).seed_of("service/orders/step0")
    one, other = (
        make_request_sampler(written, seed),
        make_request_sampler(written, seed),
    )
    here, there = Request(17, 0.0, True), Request(17, 5.0, False)
    first = one(here)
    assert other(there) == first
    assert one(here) != first
    assert make_request_sampler(written, seed + 1)(Request(17, 0.0, True)) != first


def test_constant_config_round_trip() -> None:
    assert config("300ms") == Constant(value=0.3)
