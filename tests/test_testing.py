"""The public testing helpers: vary, run, figures and SLO assertions."""

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.errors import ScenarioError
from simulator.runner import ScenarioResult
from simulator.scenario.loader import load_scenario_text
from simulator.scenario.model import Scenario
from simulator.testing import (
    arrival_rates,
    assert_cost_below,
    assert_error_rate_below,
    assert_latency_below,
    assert_throughput_at_least,
    figure,
    minimum_latency_s,
    run,
    variants,
    vary,
)

TEXT = """\
name: helpers
seed: 5
run: {duration: 20s, warmup: 2s, replications: 3}
workload:
  arrivals: {kind: poisson, rate: 40/s}
topologies:
  t:
    services:
      api:
        kind: container
        concurrency: 2
        hourly_price: $0.10
        error_rate: 0.05
        steps:
          - compute: {kind: uniform, low: 4ms, high: 6ms}
          - parallel: [{call: db, via: lan}, {compute: 1ms}]
      db: {kind: container, concurrency: 4, work: {kind: exponential, mean: 3ms}}
    links:
      lan: {pattern: network, network: {latency: 2ms}}
    entrypoint: [{call: api, via: lan}]
"""


def scenario() -> Scenario:
    return load_scenario_text(TEXT, "<helpers>")


@functools.cache
def result() -> ScenarioResult:
    return run(scenario())


def test_vary_changes_one_setting_and_keeps_the_rest() -> None:
    changed = vary(scenario(), "workload.arrivals.rate", "50/s")
    deeper = vary(changed, "topologies.t.services.db.concurrency", 8)

    assert changed.workload.arrivals.rate == 50.0
    assert deeper.topologies["t"].services["db"].concurrency == 8
    assert (
        deeper.topologies["t"].services["api"]
        == (scenario().topologies["t"].services["api"])
    )
    assert deeper.run == scenario().run


def test_vary_reports_an_invalid_value_like_the_cli() -> None:
    with pytest.raises(ScenarioError) as raised:
        vary(scenario(), "topologies.t.services.api.error_rate", 1.5)

    message = "\n".join(raised.value.lines())
    assert "topologies.t.services.api.error_rate" in message
    assert "error_rate = 1.5" in message


def test_vary_rejects_a_path_that_leads_nowhere() -> None:
    with pytest.raises(KeyError):
        vary(scenario(), "topologies.missing.services", 1)


@settings(max_examples=5, deadline=None)
@given(chosen=variants(scenario(), "workload.arrivals.rate", arrival_rates(1, 99)))
def test_variants_draw_the_setting(chosen: Scenario) -> None:
    assert 1.0 <= chosen.workload.arrivals.rate <= 99.0
    assert chosen.topologies == scenario().topologies


def test_minimum_latency_counts_fixed_delays_on_the_path() -> None:
    # Two legs of 2 ms, 4 ms of work, then the longer branch: two more legs.
    assert minimum_latency_s(scenario(), "t") == pytest.approx(0.004 + 0.004 + 0.004)
    assert result().topologies[0].pooled_latency.min_s >= 0.012 * (1 - 1e-9)


def test_figure_reads_estimates_by_name() -> None:
    p99 = figure(result(), "t", "p99")

    assert p99 is figure(result(), "t", "latency_s.p99")
    assert p99.n == 3 and p99.half_width is not None
    assert figure(result(), "t", "p99.9") is figure(result(), "t", "p999")
    with pytest.raises(KeyError, match="no figure"):
        figure(result(), "t", "p42")
    with pytest.raises(KeyError, match="no topology 'u'"):
        figure(result(), "u", "p99")


def test_latency_assertion_passes_and_fails_with_the_figures() -> None:
    p99 = figure(result(), "t", "p99")
    assert p99.half_width is not None

    assert_latency_below(result(), "t", "p99", p99.mean + p99.half_width * 1.01)
    with pytest.raises(AssertionError) as raised:
        assert_latency_below(result(), "t", "p99", p99.mean * 0.9)
    message = str(raised.value)
    assert "topology 't' of 'helpers': latency p99 s" in message
    assert "over 3 replication(s)" in message
    assert "is above the target" in message


def test_upper_bound_is_stricter_than_the_estimate() -> None:
    mean = figure(result(), "t", "mean")
    assert mean.half_width is not None and mean.half_width > 0
    target = mean.mean + mean.half_width / 2

    assert_latency_below(result(), "t", "mean", target)
    with pytest.raises(AssertionError, match="upper 95 % bound"):
        assert_latency_below(result(), "t", "mean", target, upper_bound=True)


def test_error_rate_cost_and_throughput_assertions() -> None:
    errors = figure(result(), "t", "error_rate").mean
    assert 0.0 < errors < 0.2

    assert_error_rate_below(result(), "t", 0.2)
    with pytest.raises(AssertionError, match="error rate"):
        assert_error_rate_below(result(), "t", errors / 2)

    # One priced replica (api) at $0.10 an hour for 730 hours.
    assert_cost_below(result(), "t", monthly_usd=73.01)
    with pytest.raises(AssertionError, match="monthly USD"):
        assert_cost_below(result(), "t", monthly_usd=72.99)
    with pytest.raises(ValueError, match="give monthly_usd"):
        assert_cost_below(result(), "t")

    assert_throughput_at_least(result(), "t", 30.0)
    with pytest.raises(AssertionError, match="below the target"):
        assert_throughput_at_least(result(), "t", 60.0)


@settings(max_examples=3, deadline=None)
@given(replications=st.integers(1, 2))
def test_run_overrides_replications(replications: int) -> None:
    found = run(vary(scenario(), "run.duration", 2), replications=replications)

    assert len(found.topologies[0].replications) == replications
