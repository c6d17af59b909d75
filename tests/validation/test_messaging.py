"""Asynchronous flows against theory: M/M/c queues, tandems, log partitions.

With zero API, pickup and fetch latencies a queue with c pollers of
exponential work is an M/M/c station; two such stages in a row are a tandem
(Jackson) network whose mean sojourn is the sum of the stations' (Burke's
theorem: an M/M/c queue's departures are Poisson); a log whose keys spread
Poisson arrivals over P partitions, one member each, is P independent M/M/1
queues. Tolerances are three standard errors of the mean over replications
(see ``theory.within``).
"""

import pytest
from theory import mmc_wait_s, within

from simulator.results import TopologySummary
from simulator.scenario.loader import load_scenario_text
from simulator.testing import run

pytestmark = pytest.mark.validation

WORKERS = 2


def flow_means(text: str, flow: str) -> tuple[list[float], TopologySummary]:
    result = run(load_scenario_text(text, "<validation>"), workers=WORKERS)
    summary = result.topologies[0]
    means = [r.async_flows[flow].latency.mean_s for r in summary.replications]
    assert all(r.async_flows[flow].in_flight == 0 for r in summary.replications)
    return means, summary


def test_four_pollers_at_80_percent_are_m_m_4() -> None:
    text = """\
name: m/m/4 queue
seed: 101
run: {duration: 4000s, warmup: 400s, drain: 1h, replications: 8}
workload:
  arrivals: {kind: poisson, rate: 3.2/s}
topologies:
  t:
    services:
      worker: {kind: container, replicas: 4, work: {kind: exponential, mean: 1s}}
    channels:
      q:
        kind: queue
        api_latency: 0s
        visibility_timeout: 12h
        consumer: {service: worker, pickup_latency: 0s}
    entrypoint: [{send: q}]
"""
    means, summary = flow_means(text, "q")
    expected = mmc_wait_s(3.2, 1.0, 4) + 1.0
    problem = within(means, expected)
    assert problem is None, problem

    # Little's law on the waiting line: time-weighted depth = lambda x Wq.
    depths = [r.channels["q"]["depth_mean"] for r in summary.replications]
    problem = within(depths, 3.2 * mmc_wait_s(3.2, 1.0, 4))
    assert problem is None, problem


def test_two_queued_stages_are_a_tandem_network() -> None:
    text = """\
name: tandem
seed: 202
run: {duration: 4000s, warmup: 400s, drain: 1h, replications: 8}
workload:
  arrivals: {kind: poisson, rate: 1.5/s}
topologies:
  t:
    services:
      first:
        kind: container
        replicas: 2
        steps: [{compute: {kind: exponential, mean: 1s}}, {send: second-queue}]
      second: {kind: container, work: {kind: exponential, mean: 0.4s}}
    channels:
      first-queue:
        kind: queue
        api_latency: 0s
        visibility_timeout: 12h
        consumer: {service: first, pickup_latency: 0s}
      second-queue:
        kind: queue
        api_latency: 0s
        visibility_timeout: 12h
        consumer: {service: second, pickup_latency: 0s}
    entrypoint: [{send: first-queue}]
"""
    means, _ = flow_means(text, "first-queue")
    expected = (mmc_wait_s(1.5, 1.0, 2) + 1.0) + (mmc_wait_s(1.5, 2.5, 1) + 0.4)
    problem = within(means, expected)
    assert problem is None, problem


def test_log_partitions_with_one_member_each_are_m_m_1_queues() -> None:
    text = """\
name: partitions
seed: 303
run: {duration: 3000s, warmup: 300s, drain: 1h, replications: 8}
workload:
  arrivals: {kind: poisson, rate: 6/s}
topologies:
  t:
    services:
      api: {kind: container, replicas: 50, steps: [{publish: log}]}
      reader: {kind: container, replicas: 4, work: {kind: exponential, mean: 0.5s}}
    channels:
      log:
        kind: log
        partitions: 4
        produce_latency: 0s
        consumer_groups:
          g: {service: reader, batch_size: 1, fetch_latency: 0s}
    entrypoint: [{call: api}]
"""
    means, _ = flow_means(text, "log")
    # Each partition: Poisson at 1.5/s, service rate 2/s: W = 1 / (2 - 1.5).
    problem = within(means, 1.0 / (2.0 - 1.5))
    assert problem is None, problem
