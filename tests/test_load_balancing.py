"""Load balancing across replicas: the spread of each policy, outlier
detection's ejections and returns, and queueing theory for the policies
where it applies (random split: c M/M/1 queues; round robin: c E_c/M/1
queues; shared queue: M/M/c).
"""

import math
import random

import pytest
from helpers import topology_run, trace

from simulator.engine.balancing import Balancer, OutlierDetector
from simulator.engine.simulation import simulate
from simulator.scenario.base import LoadBalancingSettings, OutlierDetection
from simulator.scenario.loader import load_scenario_text

POLICIES = ("round-robin", "random", "least-request", "power-of-two-choices")


def balancer(policy: str, replicas: int = 4, seed: int = 3) -> Balancer:
    return Balancer(
        LoadBalancingSettings(policy=policy),  # type: ignore[arg-type]
        replicas,
        random.Random(seed),
    )


# The spread of each policy, on the balancer alone.


def test_round_robin_cycles_exactly() -> None:
    lb = balancer("round-robin")
    picks = [lb.pick(0.0) for _ in range(10)]
    assert picks == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def test_random_spreads_evenly_within_sampling_error() -> None:
    lb = balancer("random")
    picks = 40_000
    for _ in range(picks):
        lb.finished(lb.pick(0.0), None, 0.0)

    # Each count is Binomial(40000, 1/4): sd = 86.6; allow 4 sd.
    expected = picks / 4
    sd = math.sqrt(picks * 0.25 * 0.75)
    assert all(abs(n - expected) < 4 * sd for n in lb.picked)


def test_least_request_picks_the_least_loaded_and_rotates_ties() -> None:
    lb = balancer("least-request")
    # Nothing outstanding: ties rotate, so four picks go to four replicas.
    first = [lb.pick(0.0) for _ in range(4)]
    assert sorted(first) == [0, 1, 2, 3]
    # Replicas 0, 1 and 3 finish; 2 still has one outstanding, never chosen
    # while another has none.
    for replica in (0, 1, 3):
        lb.finished(replica, None, 0.0)
    later = []
    for _ in range(30):
        replica = lb.pick(0.0)
        later.append(replica)
        lb.finished(replica, None, 0.0)
    assert 2 not in later
    assert set(later) == {0, 1, 3}


def test_power_of_two_choices_never_picks_the_most_loaded() -> None:
    lb = balancer("power-of-two-choices")
    lb.outstanding = [5, 0, 1, 2]
    picks = []
    for _ in range(2_000):
        replica = lb.pick(0.0)
        picks.append(replica)
        lb.outstanding[replica] -= 1
    assert 0 not in picks
    # Replica 1 (idle) wins every pair it is in: 3 of the 6 pairs.
    assert picks.count(1) / len(picks) == pytest.approx(0.5, abs=0.04)


@pytest.mark.parametrize("policy", POLICIES)
def test_each_policy_spreads_a_simulated_workload(policy: str) -> None:
    text = SERVICE.format(policy=policy, extra="")
    result = simulate(load_scenario_text(text, "<lb>"), "t", 0)
    served = [r["served"] for r in result.services["api"]["per_replica"].values()]
    total = sum(served)
    assert total == result.arrived
    if policy == "round-robin":
        assert max(served) - min(served) <= 1
    else:
        # Evenly loaded replicas share the work within a few percent.
        assert all(abs(n / total - 0.25) < 0.03 for n in served)


SERVICE = """
name: lb
seed: 11
run: {{duration: 200s, drain: 100s}}
workload: {{arrivals: {{kind: poisson, rate: 20/s}}}}
topologies:
  t:
    services:
      api:
        kind: container
        replicas: 4
        work: {{kind: exponential, mean: 100ms}}
        load_balancing: {policy}
        {extra}
    entrypoint:
      - {{call: api}}
"""


# Outlier detection: ejection and return at exact instants.


def test_outlier_is_ejected_then_returns_with_a_longer_ejection() -> None:
    detector = OutlierDetector(
        OutlierDetection(
            consecutive_failures=3, base_ejection_time=10.0, max_ejection_percent=50
        ),
        4,
    )
    everyone = [0, 1, 2, 3]
    for t in (1.0, 2.0):
        detector.record(1, "timeout", t)
    assert detector.healthy(2.5, everyone) == everyone
    detector.record(1, "failed", 3.0)
    assert detector.healthy(3.0, everyone) == [0, 2, 3]
    assert detector.healthy(12.999, everyone) == [0, 2, 3]
    assert detector.healthy(13.0, everyone) == everyone

    # The second ejection lasts twice the base.
    for t in (20.0, 21.0, 22.0):
        detector.record(1, "timeout", t)
    assert detector.healthy(41.9, everyone) == [0, 2, 3]
    assert detector.healthy(42.0, everyone) == everyone
    assert detector.events == [
        (3.0, 1, "ejected"),
        (13.0, 1, "returned"),
        (22.0, 1, "ejected"),
        (42.0, 1, "returned"),
    ]


def test_a_success_resets_the_count_and_other_causes_do_not_count() -> None:
    detector = OutlierDetector(OutlierDetection(consecutive_failures=2), 4)
    detector.record(0, "failed", 1.0)
    detector.record(0, None, 2.0)
    detector.record(0, "failed", 3.0)
    detector.record(0, "circuit_open", 4.0)
    assert detector.ejected == []
    detector.record(0, "failed", 5.0)
    assert detector.ejected == [0]


def test_max_ejection_percent_keeps_enough_replicas() -> None:
    # 10 % of 4 replicas rounds down to 0, but one may always be ejected.
    detector = OutlierDetector(OutlierDetection(consecutive_failures=1), 4)
    detector.record(0, "failed", 1.0)
    detector.record(1, "failed", 1.0)
    assert detector.ejected == [0]


def test_a_link_ejects_a_replica_that_keeps_timing_out() -> None:
    # Replica 2 answers in 1 s during [10 s, 30 s); the link gives up after
    # 200 ms. Five timeouts in a row eject it for 5 s, then 10 s.
    text = """
name: eject
seed: 5
run: {duration: 40s, drain: 10s}
workload: {arrivals: {kind: constant, rate: 40/s}}
topologies:
  t:
    services:
      api:
        kind: container
        replicas: 4
        concurrency: 50
        work: 10ms
        load_balancing: round-robin
        faults: [{kind: slow, replica: 2, factor: 100, start: 10s, end: 30s}]
    links:
      mesh:
        pattern: network
        timeout: 200ms
        cancel_on_timeout: true
        load_balancing:
          policy: round-robin
          outlier_detection:
            consecutive_failures: 5
            base_ejection_time: 5s
            max_ejection_percent: 25
    entrypoint:
      - {call: api, via: mesh}
"""
    run = topology_run(text)
    outcomes = trace(run)
    result = run.run()

    guard = run.hops["mesh"].guard
    assert guard is not None
    detector = guard.balancers["api"].detector
    assert detector is not None
    events = [(round(t, 3), r, kind) for t, r, kind in detector.events]
    # Arrivals are 25 ms apart and replica 2 gets every 4th, from 75 ms on:
    # its fifth slow request is sent at 10.475 s and given up at 10.675 s.
    # Each ejection lasts 5 s longer than the last; the third outlasts the run.
    assert events == [
        (10.675, 2, "ejected"),
        (15.675, 2, "returned"),
        (16.275, 2, "ejected"),
        (26.275, 2, "returned"),
        (26.975, 2, "ejected"),
    ]
    figures = result.hops["mesh"]
    assert figures["balancing"]["api"]["ejections"] == 3
    assert figures["errors"] == {"timeout": 20}
    assert figures["cancelled"] == 20
    assert len(outcomes) == result.arrived


# Theory: mean time in system of each policy against its queueing model.


def _erlang_c_wait(servers: int, rate: float, service_rate: float) -> float:
    load = rate / service_rate
    rho = load / servers
    terms = sum(load**k / math.factorial(k) for k in range(servers))
    top = load**servers / math.factorial(servers) / (1 - rho)
    return top / (terms + top) / (servers * service_rate - rate)


def _erlang_k_m_1_sojourn(k: int, rate: float, service_rate: float) -> float:
    # GI/M/1 with Erlang-k arrivals of mean k / rate: sigma solves
    # sigma = A*(mu (1 - sigma)) with A*(s) = (rate / (rate + s))^k, and the
    # mean time in system is 1 / (mu (1 - sigma)).
    sigma = 0.5
    for _ in range(10_000):
        sigma = (rate / (rate + service_rate * (1 - sigma))) ** k
    return 1 / (service_rate * (1 - sigma))


@pytest.mark.validation
@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("random", 1 / (1.0 - 3.0 / 4)),
        ("round-robin", _erlang_k_m_1_sojourn(4, 3.0, 1.0)),
        ("shared-queue", 1.0 + _erlang_c_wait(4, 3.0, 1.0)),
    ],
)
def test_policies_against_queueing_theory(policy: str, expected: float) -> None:
    # 4 replicas of one worker, mu = 1/s, lambda = 3/s (rho = 0.75).
    text = f"""
name: theory
seed: 2024
run: {{duration: 8000s, warmup: 500s, replications: 4, drain: 1000s}}
workload: {{arrivals: {{kind: poisson, rate: 3/s}}}}
topologies:
  t:
    services:
      api:
        kind: container
        replicas: 4
        work: {{kind: exponential, mean: 1s}}
        load_balancing: {policy}
    entrypoint:
      - {{call: api}}
"""
    scenario = load_scenario_text(text, "<theory>")
    means = [simulate(scenario, "t", r).latency.mean_s for r in range(4)]
    mean = sum(means) / len(means)
    sd = math.sqrt(sum((m - mean) ** 2 for m in means) / (len(means) - 1))
    half_width = 3.182 * sd / 2.0  # t(0.975, 3) x sd / sqrt(4)

    # The estimate's own 95 % interval, plus 3 % for the finite horizon.
    assert abs(mean - expected) <= half_width + 0.03 * expected
