"""Common random numbers: per-request draws, aligned work, paired comparisons."""

import dataclasses
import math
import statistics

import pytest
from helpers import topology_run, trace
from scipy import stats

from simulator.engine.crn import (
    make_request_sampler,
    request_uniform,
    uniform_for_requests,
)
from simulator.engine.runtime import Request
from simulator.scenario.base import Empirical, Exponential, Lognormal, Uniform
from simulator.scenario.loader import load_scenario_text
from simulator.testing import figure, run

SEED = 0x5EED_CAFE_F00D


def requests(count: int) -> list[Request]:
    return [Request(i, 0.0, True) for i in range(1, count + 1)]


# The draws


def test_a_draw_depends_on_the_request_not_on_the_order_of_drawing() -> None:
    forward = uniform_for_requests(SEED)
    backward = uniform_for_requests(SEED)
    ahead = requests(50)
    behind = requests(50)

    first = [forward(r) for r in ahead]
    second = [backward(r) for r in reversed(behind)][::-1]

    assert first == second
    assert first[6] == request_uniform(SEED, 7, 0)


def test_each_visit_draws_a_fresh_number_and_copies_share_the_count() -> None:
    uniform = uniform_for_requests(SEED)
    request = Request(3, 0.0, True)
    copy = dataclasses.replace(request, deadline_s=1.0)

    drawn = [uniform(request), uniform(copy), uniform(request)]

    assert drawn == [request_uniform(SEED, 3, visit) for visit in range(3)]
    assert len(set(drawn)) == 3
    assert request_uniform(SEED, 3, 300) != request_uniform(SEED, 4, 44)


def test_uniforms_are_uniform_and_uncorrelated_across_requests() -> None:
    values = [request_uniform(SEED, i, 0) for i in range(1, 100_001)]

    counts = [0] * 20
    for value in values:
        assert 0.0 < value < 1.0
        counts[int(value * 20)] += 1
    assert stats.chisquare(counts).pvalue > 0.001

    # Neighbouring requests: correlation within 4 / sqrt(n) of zero.
    lag = statistics.correlation(values[:-1], values[1:])
    assert abs(lag) < 4 / math.sqrt(len(values))


def test_streams_of_different_names_are_independent() -> None:
    first = [request_uniform(SEED, i, 0) for i in range(1, 20_001)]
    second = [request_uniform(SEED + 1, i, 0) for i in range(1, 20_001)]

    assert abs(statistics.correlation(first, second)) < 4 / math.sqrt(20_000)


@pytest.mark.parametrize(
    ("config", "mean_s", "sd_s"),
    [
        (Exponential(kind="exponential", mean=0.02), 0.02, 0.02),
        (Uniform(kind="uniform", low=0.01, high=0.03), 0.02, 0.02 / math.sqrt(12)),
        (Lognormal(kind="lognormal", mean=0.02, sd=0.01), 0.02, 0.01),
        (Empirical(kind="empirical", values=[0.01, 0.03]), 0.02, 0.01),
    ],
)
def test_samplers_have_the_distribution_s_mean(
    config: object, mean_s: float, sd_s: float
) -> None:
    sample = make_request_sampler(config, SEED)  # type: ignore[arg-type]
    draws = [sample(r) for r in requests(20_000)]

    assert statistics.fmean(draws) == pytest.approx(mean_s, abs=4 * sd_s / 141.4)
    assert statistics.stdev(draws) == pytest.approx(sd_s, rel=0.08)


def test_lognormal_from_percentiles_hits_them() -> None:
    config = Lognormal(kind="lognormal", p50=0.01, p99=0.1)
    sample = make_request_sampler(config, SEED)
    draws = sorted(sample(r) for r in requests(50_000))

    assert draws[25_000] == pytest.approx(0.01, rel=0.03)
    assert draws[49_500] == pytest.approx(0.1, rel=0.08)


# Work that follows the request across topologies


ALIGNED = """\
name: aligned
seed: 12
run: {duration: 30s}
workload:
  arrivals: {kind: poisson, rate: 40/s}
topologies:
  direct:
    services:
      api: {kind: container, concurrency: 1000, work: {kind: exponential, mean: 20ms}}
    entrypoint: [{call: api}]
  gated:
    services:
      gate: {kind: container, concurrency: 1000, work: 0s, error_rate: 0.3}
      api: {kind: container, concurrency: 1000, work: {kind: exponential, mean: 20ms}}
    entrypoint: [{call: gate}, {call: api}]
"""


def test_a_request_gets_the_same_work_whatever_happened_before_it() -> None:
    # The gate drops 30 % of requests before they reach api; with no queue,
    # a request's latency is its work at api, in both topologies.
    direct_run = topology_run(ALIGNED, "direct")
    gated_run = topology_run(ALIGNED, "gated")
    direct_outcomes = trace(direct_run)
    gated_outcomes = trace(gated_run)
    direct_run.run()
    gated_run.run()
    direct = {o.id: o.latency_s for o in direct_outcomes if o.cause is None}
    gated = {o.id: o.latency_s for o in gated_outcomes if o.cause is None}

    passed = [i for i in direct if i in gated]
    assert 0.6 * len(direct) < len(passed) < 0.8 * len(direct)
    assert all(direct[i] == pytest.approx(gated[i], abs=1e-12) for i in passed)


PAIRED = """\
name: paired
seed: 31
run: {duration: 50s, warmup: 5s, replications: 6}
workload:
  arrivals: {kind: poisson, rate: 70/s}
topologies:
  one-worker:
    services:
      api: {kind: container, work: {kind: exponential, mean: 10ms}}
    entrypoint: [{call: api}]
  behind-a-proxy:
    services:
      proxy: {kind: container, concurrency: 200, work: 1ms}
      api: {kind: container, work: {kind: exponential, mean: 10ms}}
    links:
      lan: {pattern: network, network: {latency: 2ms}}
    entrypoint: [{call: proxy, via: lan}, {call: api}]
"""


def test_paired_intervals_are_much_tighter_than_unpaired_ones() -> None:
    result = run(load_scenario_text(PAIRED))

    from simulator.comparison import compare

    (comparison,) = compare(result.topologies)
    for key in ("latency_s.mean", "latency_s.p50", "latency_s.p99"):
        difference = comparison.differences[key]
        assert difference.half_width is not None
        assert difference.unpaired_half_width is not None
        assert difference.half_width < 0.1 * difference.unpaired_half_width, key

    # The proxy adds 2 x 2 ms of network and 1 ms of work to every request.
    mean = comparison.differences["latency_s.mean"]
    assert mean.mean == pytest.approx(0.005, abs=max(mean.half_width or 0, 1e-9))
    assert figure(result, "behind-a-proxy", "mean").mean > 0.005
