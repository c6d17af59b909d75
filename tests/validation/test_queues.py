"""Single queues against theory: M/M/1, M/M/c, M/D/1, M/G/1, blocking, Little.

Every case runs independent replications (their own random streams) after a
warm-up of many relaxation times, and compares the mean over replications with
the exact value; the tolerance is three standard errors of that mean, or a
stated floor (see ``theory.within``). Percentiles get a floor of 0.2 %: the
histogram reports a bucket's upper bound, at most 0.1 % above the sample
percentile. Every run also checks Little's law as an identity (it drains).
"""

import math

import pytest
from theory import (
    erlang_b,
    mm1k_blocking,
    mmc_wait_s,
    pollaczek_khinchine_wait_s,
    within,
)

from simulator.results import TopologySummary
from simulator.scenario.loader import load_scenario_text
from simulator.testing import run

pytestmark = pytest.mark.validation

PERCENTILE_FLOOR = 0.002
WORKERS = 2


def station(
    rate_per_s: float,
    work: str,
    *,
    duration_s: float,
    warmup: str,
    replications: int,
    seed: int,
    concurrency: int = 1,
    queue_limit: int | None = None,
) -> TopologySummary:
    """Run one M/G/c station; return its summary."""
    limit = "" if queue_limit is None else f", queue_limit: {queue_limit}"
    text = f"""\
name: station
seed: {seed}
run:
  {{duration: {duration_s}s, warmup: {warmup}, drain: 1h, replications: {replications}}}
workload:
  arrivals: {{kind: poisson, rate: {rate_per_s}/s}}
topologies:
  t:
    services:
      server: {{kind: container, concurrency: {concurrency}, work: {work}{limit}}}
    entrypoint: [{{call: server}}]
"""
    result = run(load_scenario_text(text, "<validation>"), workers=WORKERS)
    summary = result.topologies[0]

    # Little's law, L = lambda W, holds exactly on every replication that drains.
    law = summary.littles_law()
    assert law is not None and law["replications"] == replications
    assert law["largest_relative_gap"] < 1e-9
    return summary


def service_values(summary: TopologySummary, key: str) -> list[float]:
    return [float(r.services["server"][key]) for r in summary.replications]


def check(found: str | None) -> None:
    assert found is None, found


# M/M/1


def test_mm1_mean_and_sojourn_percentiles_up_to_p999() -> None:
    lam, mu = 70.0, 100.0
    summary = station(
        lam,
        "{kind: exponential, mean: 10ms}",
        duration_s=300,
        warmup="20s",
        replications=12,
        seed=101,
    )

    # The sojourn time of M/M/1 is exponential with rate mu - lam.
    rate = mu - lam
    check(within(summary.latency["mean"].values, 1 / rate))
    for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)):
        expected = -math.log(1 - q) / rate
        check(within(summary.latency[key].values, expected, PERCENTILE_FLOOR))

    # Time-weighted figures: utilisation rho, queue rho^2 / (1 - rho), and
    # requests in flight rho / (1 - rho).
    rho = lam / mu
    check(within(service_values(summary, "utilisation"), rho))
    check(within(service_values(summary, "queue_length_mean"), rho**2 / (1 - rho)))
    check(within(summary.figures["in_flight_mean"].values, rho / (1 - rho)))


def test_mm1_with_automatic_warmup_is_unbiased() -> None:
    summary = station(
        80.0,
        "{kind: exponential, mean: 10ms}",
        duration_s=150,
        warmup="auto",
        replications=10,
        seed=102,
    )

    assert all(r.warmup_cut is not None for r in summary.replications)
    check(within(summary.latency["mean"].values, 1 / 20.0))


# M/M/c (Erlang C)


@pytest.mark.parametrize(("servers", "duration_s"), [(2, 200), (4, 120), (8, 80)])
def test_mmc_mean_wait_and_queue_by_erlang_c(servers: int, duration_s: float) -> None:
    mu = 50.0
    lam = 0.8 * servers * mu
    summary = station(
        lam,
        "{kind: exponential, mean: 20ms}",
        duration_s=duration_s,
        warmup="10s",
        replications=10,
        seed=200 + servers,
        concurrency=servers,
    )

    wait = mmc_wait_s(lam, mu, servers)
    check(within(summary.latency["mean"].values, wait + 1 / mu))
    check(within(service_values(summary, "queue_length_mean"), lam * wait))
    check(within(service_values(summary, "utilisation"), 0.8))


# M/D/1 and M/G/1 (Pollaczek-Khinchine)


@pytest.mark.parametrize(
    ("label", "work", "mean_s", "second_moment", "rate_per_s", "duration_s"),
    [
        ("M/D/1", "10ms", 0.01, 0.01**2, 70.0, 300),
        # Uniform on [5, 15] ms: variance 10^2 / 12 ms^2, low variance.
        (
            "M/G/1 low variance",
            "{kind: uniform, low: 5ms, high: 15ms}",
            0.01,
            0.01**2 + 0.01**2 / 12,
            70.0,
            300,
        ),
        # Lognormal with a coefficient of variation of 3: high variance.
        (
            "M/G/1 high variance",
            "{kind: lognormal, mean: 10ms, sd: 30ms}",
            0.01,
            0.01**2 + 0.03**2,
            50.0,
            450,
        ),
    ],
)
def test_mg1_mean_wait_by_pollaczek_khinchine(
    label: str,
    work: str,
    mean_s: float,
    second_moment: float,
    rate_per_s: float,
    duration_s: float,
) -> None:
    summary = station(
        rate_per_s,
        work,
        duration_s=duration_s,
        warmup="20s",
        replications=10,
        seed=300,
    )

    wait = pollaczek_khinchine_wait_s(rate_per_s, mean_s, second_moment)
    check(within(summary.latency["mean"].values, wait + mean_s))
    check(within(service_values(summary, "queue_length_mean"), rate_per_s * wait))


# Blocking: M/M/1/K and Erlang B


def blocked_fraction(summary: TopologySummary) -> list[float]:
    return [r.errors["rejected"] / r.arrived for r in summary.replications]


def test_mm1k_blocking_probability() -> None:
    # K = 5 places: one in service and a queue of four.
    summary = station(
        90.0,
        "{kind: exponential, mean: 10ms}",
        duration_s=150,
        warmup="5s",
        replications=10,
        seed=400,
        queue_limit=4,
    )

    check(within(blocked_fraction(summary), mm1k_blocking(0.9, 5)))
    assert summary.figures["error_rate"].values == tuple(blocked_fraction(summary))


def test_loss_system_blocking_by_erlang_b() -> None:
    # Five servers, no waiting room (queue_limit 0), 4 Erlangs offered.
    summary = station(
        200.0,
        "{kind: exponential, mean: 20ms}",
        duration_s=80,
        warmup="2s",
        replications=10,
        seed=401,
        concurrency=5,
        queue_limit=0,
    )

    check(within(blocked_fraction(summary), erlang_b(5, 4.0)))
    # Carried load: the busy servers are a (1 - B) on average.
    carried = 4.0 * (1 - erlang_b(5, 4.0)) / 5
    check(within(service_values(summary, "utilisation"), carried))
