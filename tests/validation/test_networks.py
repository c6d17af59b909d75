"""Networks of queues against theory: tandem, Jackson, fork-join, closed loop.

Same method as ``test_queues``: independent replications after a warm-up, the
mean over them within three standard errors of the exact value (or a stated
floor: 0.2 % for percentiles, the histogram's bucket width), and Little's law
as an identity on every run.
"""

import math

import pytest
from theory import (
    fork_join_two_s,
    hypoexponential_quantile,
    mean_value_analysis,
    within,
)

from simulator.results import TopologySummary
from simulator.scenario.loader import load_scenario_text
from simulator.testing import run

pytestmark = pytest.mark.validation

PERCENTILE_FLOOR = 0.002


def simulate(text: str) -> TopologySummary:
    result = run(load_scenario_text(text, "<validation>"), workers=2)
    summary = result.topologies[0]
    law = summary.littles_law()
    assert law is not None and law["largest_relative_gap"] < 1e-9
    return summary


def check(found: str | None) -> None:
    assert found is None, found


def service_values(summary: TopologySummary, service: str, key: str) -> list[float]:
    return [float(r.services[service][key]) for r in summary.replications]


def test_tandem_end_to_end_percentiles_are_hypoexponential() -> None:
    # Three M/M/1 stations one after the other: by Burke's and Reich's
    # theorems a request's sojourn times at them are independent exponentials
    # with rates mu_i - lambda, so the total is hypoexponential.
    summary = simulate(
        """\
name: tandem
seed: 501
run: {duration: 240s, warmup: 20s, drain: 1h, replications: 10}
workload:
  arrivals: {kind: poisson, rate: 50/s}
topologies:
  t:
    services:
      s1: {kind: container, work: {kind: exponential, mean: 10ms}}
      s2: {kind: container, work: {kind: exponential, mean: 12.5ms}}
      s3: {kind: container, work: {kind: exponential, mean: 8ms}}
    entrypoint: [{call: s1}, {call: s2}, {call: s3}]
"""
    )

    rates = [100.0 - 50.0, 80.0 - 50.0, 125.0 - 50.0]
    check(within(summary.latency["mean"].values, sum(1 / r for r in rates)))
    for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)):
        expected = hypoexponential_quantile(rates, q)
        check(within(summary.latency[key].values, expected, PERCENTILE_FLOOR))


def test_jackson_network_with_routing_and_feedback() -> None:
    # After s1 a request visits s2 with probability 0.4; after that it goes
    # round again with probability 0.25. Traffic equations: lambda1 = 30 +
    # 0.15 lambda1 + 0.25 lambda2, lambda2 = 0.4 lambda1, so lambda1 = 40 and
    # lambda2 = 16; each station is then an M/M/1 queue (product form).
    summary = simulate(
        """\
name: jackson
seed: 502
run: {duration: 300s, warmup: 20s, drain: 1h, replications: 10}
workload:
  arrivals: {kind: poisson, rate: 30/s}
topologies:
  t:
    services:
      s1: {kind: container, work: {kind: exponential, mean: 10ms}}
      s2: {kind: container, work: {kind: exponential, mean: 40ms}}
    entrypoint:
      - repeat:
          again: 0.25
          steps:
            - {call: s1}
            - choice:
                - {weight: 0.4, steps: [{call: s2}]}
                - {weight: 0.6}
"""
    )

    lam1, lam2, mu1, mu2 = 40.0, 16.0, 100.0, 25.0
    visits1, visits2 = lam1 / 30.0, lam2 / 30.0
    sojourn = visits1 / (mu1 - lam1) + visits2 / (mu2 - lam2)
    check(within(summary.latency["mean"].values, sojourn))
    for service, lam, mu in (("s1", lam1, mu1), ("s2", lam2, mu2)):
        rho = lam / mu
        check(within(service_values(summary, service, "utilisation"), rho))
        queue = service_values(summary, service, "queue_length_mean")
        check(within(queue, rho**2 / (1 - rho)))


def test_fork_join_of_two_mm1_branches() -> None:
    summary = simulate(
        """\
name: fork-join
seed: 503
run: {duration: 200s, warmup: 20s, drain: 1h, replications: 10}
workload:
  arrivals: {kind: poisson, rate: 50/s}
topologies:
  t:
    services:
      a: {kind: container, work: {kind: exponential, mean: 10ms}}
      b: {kind: container, work: {kind: exponential, mean: 10ms}}
    entrypoint:
      - parallel: [{call: a}, {call: b}]
"""
    )

    # Exact for two branches: (12 - rho) / 8 / (mu - lambda). It lies between
    # one branch's mean and the mean of the larger of two independent ones.
    expected = fork_join_two_s(50.0, 100.0)
    assert 1 / 50.0 < expected < 1.5 / 50.0
    check(within(summary.latency["mean"].values, expected))


@pytest.mark.parametrize(
    ("users", "think", "think_s", "works", "demands_s", "duration_s"),
    [
        (10, "{kind: exponential, mean: 1s}", 1.0, ["80ms"], [0.08], 800),
        # Think time is a delay station: MVA holds for any think distribution.
        (20, "2s", 2.0, ["50ms", "30ms"], [0.05, 0.03], 600),
    ],
)
def test_closed_loop_users_by_mean_value_analysis(
    users: int,
    think: str,
    think_s: float,
    works: list[str],
    demands_s: list[float],
    duration_s: float,
) -> None:
    services = "\n".join(
        f"      s{i}: {{kind: container, work: {{kind: exponential, mean: {work}}}}}"
        for i, work in enumerate(works)
    )
    calls = ", ".join(f"{{call: s{i}}}" for i in range(len(works)))
    summary = simulate(
        f"""\
name: closed
seed: 504
run: {{duration: {duration_s}s, warmup: 50s, drain: 1h, replications: 10}}
workload:
  arrivals: {{kind: closed, users: {users}, think_time: {think}}}
topologies:
  t:
    services:
{services}
    entrypoint: [{calls}]
"""
    )

    throughput, response = mean_value_analysis(users, demands_s, think_s)
    check(within(summary.figures["offered_rps"].values, throughput))
    check(within(summary.latency["mean"].values, response))
    for i, demand in enumerate(demands_s):
        utilisation = service_values(summary, f"s{i}", "utilisation")
        check(within(utilisation, throughput * demand))


def test_hypoexponential_quantile_of_one_stage_is_exponential() -> None:
    assert hypoexponential_quantile([20.0], 0.99) == pytest.approx(
        -math.log(0.01) / 20.0
    )
    assert hypoexponential_quantile([20.0, 30.0], 0.5) > -math.log(0.5) / 20.0
