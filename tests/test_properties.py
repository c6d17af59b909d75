"""Properties of the engine over generated scenarios (hypothesis).

The scenarios come from :func:`simulator.testing.scenarios`: small chains of
container services with random work, links, error rates and bounded queues.
Each example simulates a few seconds, so a property costs seconds; in CI the
examples are derandomised (see ``conftest.py``).

Monotonicity is claimed only where it holds on every sample path: a FCFS pool
of workers fed the same arrivals, each request bringing the same work (common
random numbers attach work to the request), never makes any request wait
longer when workers are added, nor shorter when arrivals come faster (the
Kiefer-Wolfowitz workload vector only shrinks, or only grows). The same
requests are compared: the window is the first N arrivals, with no warm-up.
"""

import functools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine.simulation import ReplicationResult, simulate
from simulator.pricing.monthly import price_replication
from simulator.report.document import build_document
from simulator.report.formats import to_json
from simulator.scenario.loader import load_scenario_text
from simulator.scenario.model import Scenario
from simulator.testing import (
    arrival_rates,
    minimum_latency_s,
    run,
    scenarios,
    seeds,
    vary,
)

EXAMPLES = settings(max_examples=25, deadline=None)


@EXAMPLES
@given(scenario=scenarios(), drain=st.booleans())
def test_every_arrival_is_accounted_for(scenario: Scenario, drain: bool) -> None:
    if not drain:
        scenario = vary(scenario, "run.drain", 0)

    result = simulate(scenario, "t", 0)

    failed = sum(result.errors.values())
    assert result.arrived == result.succeeded + failed + result.in_flight
    assert result.latency.count == result.succeeded
    if drain:
        assert result.in_flight == 0


@EXAMPLES
@given(scenario=scenarios())
def test_percentiles_are_ordered_and_above_the_fixed_delays(
    scenario: Scenario,
) -> None:
    result = simulate(scenario, "t", 0)
    latency = result.latency
    if latency.count == 0:
        return

    ordered = [
        latency.min_s,
        latency.percentile(50),
        latency.percentile(90),
        latency.percentile(95),
        latency.percentile(99),
        latency.percentile(99.9),
        latency.max_s,
    ]
    assert ordered == sorted(ordered)
    assert latency.min_s <= latency.mean_s <= latency.max_s

    floor = minimum_latency_s(scenario, "t")
    assert latency.min_s >= floor * (1 - 1e-9)


@settings(max_examples=6, deadline=None)
@given(scenario=scenarios(replications=2), seed=seeds())
def test_same_seed_same_report_and_another_seed_another(
    scenario: Scenario, seed: int
) -> None:
    def report(chosen: Scenario) -> str:
        return to_json(build_document(run(chosen)))

    first = report(scenario)

    assert report(scenario) == first
    other = vary(scenario, "seed", seed)
    if seed != scenario.seed:
        assert (
            json.loads(report(other))["topologies"] != json.loads(first)["topologies"]
        )


def pool(rate_per_s: float, work: str, workers: int, seed: int) -> Scenario:
    return load_scenario_text(
        f"""\
name: pool
seed: {seed}
run: {{requests: 400, drain: 1h}}
workload:
  arrivals: {{kind: poisson, rate: {rate_per_s}/s}}
topologies:
  t:
    services:
      pool: {{kind: container, concurrency: {workers}, work: {work}}}
    entrypoint: [{{call: pool}}]
"""
    )


WORK = st.sampled_from(
    [
        "{kind: exponential, mean: 20ms}",
        "{kind: lognormal, mean: 20ms, sd: 40ms}",
        "{kind: uniform, low: 1ms, high: 39ms}",
        "20ms",
    ]
)


@EXAMPLES
@given(
    rate=arrival_rates(10, 150),
    work=WORK,
    workers=st.integers(1, 4),
    more=st.integers(1, 3),
    seed=seeds(),
)
def test_more_workers_never_make_any_request_wait_longer(
    rate: float, work: str, workers: int, more: int, seed: int
) -> None:
    fewer = simulate(pool(rate, work, workers, seed), "t", 0)
    added = simulate(pool(rate, work, workers + more, seed), "t", 0)

    assert added.arrived == fewer.arrived == 400
    assert added.latency.mean_s <= fewer.latency.mean_s * (1 + 1e-12)
    assert added.latency.max_s <= fewer.latency.max_s * (1 + 1e-12)


@EXAMPLES
@given(
    rate=arrival_rates(10, 100),
    faster=st.floats(1.01, 2.0),
    work=WORK,
    workers=st.integers(1, 3),
    seed=seeds(),
)
def test_faster_arrivals_never_make_any_request_wait_less(
    rate: float, faster: float, work: str, workers: int, seed: int
) -> None:
    slow = simulate(pool(rate, work, workers, seed), "t", 0)
    fast = simulate(pool(rate * faster, work, workers, seed), "t", 0)

    assert fast.latency.mean_s >= slow.latency.mean_s * (1 - 1e-12)
    assert fast.latency.max_s >= slow.latency.max_s * (1 - 1e-12)


FUNCTION = """\
name: function
seed: 3
run: {duration: 20s}
workload:
  arrivals: {kind: poisson, rate: 20/s}
  monthly_requests: 1M
topologies:
  t:
    services:
      fn:
        kind: lambda
        memory_mb: 256
        work: {kind: lognormal, p50: 40ms, p99: 200ms}
        cold_start: 150ms
    links:
      invoke: {pattern: lambda-invoke, overhead: 5ms}
    entrypoint: [{call: fn, via: invoke}]
"""


@functools.cache
def function_run() -> tuple[Scenario, ReplicationResult]:
    scenario = load_scenario_text(FUNCTION)
    return scenario, simulate(scenario, "t", 0)


@settings(max_examples=10, deadline=None)
@given(volume=st.floats(1e3, 1e8), factor=st.floats(1.0, 1000.0))
def test_per_request_cost_is_linear_in_volume(volume: float, factor: float) -> None:
    # Flat per-request prices and no free tier: the month's bill of the same
    # simulated window scales with the volume it is extrapolated to.
    scenario, result = function_run()

    def priced(monthly: float) -> float:
        chosen = vary(scenario, "workload.monthly_requests", monthly)
        return price_replication(result, chosen).monthly_usd

    assert priced(volume * factor) == pytest.approx(factor * priced(volume), rel=1e-9)
