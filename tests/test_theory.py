"""The engine against queueing theory, where theory applies.

Each case runs independent replications (different random streams) after a
warm-up, and compares the mean over replications with the exact value. The
tolerance is 3 standard errors of that mean (the spread across replications
over sqrt(n)) or a stated floor, whichever is larger; the floor guards against
a spread that is small by chance with few replications. The fast cases take a
few seconds; the heavier ones are marked ``validation``.

Theory used, with arrival rate lambda, service rate mu, c servers:

- M/M/1: the sojourn time is exponential with rate mu - lambda, so its mean
  is 1 / (mu - lambda) and its q-quantile -ln(1 - q) / (mu - lambda).
- M/M/c: the mean wait in queue is C(c, a) / (c mu - lambda) with a = lambda /
  mu and C the Erlang C probability of waiting; Little's law gives the mean
  queue length lambda x wait.
- M/G/1 (Pollaczek-Khinchine): the mean wait is lambda E[S^2] / (2 (1 - rho)).
"""

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from simulator.engine.simulation import ReplicationResult, simulate
from simulator.scenario.loader import load_scenario_text

MU_PER_S = 10.0
"""Service rate of every case: a mean service time of 100 ms."""


def scenario_text(rate_per_s: float, workers: int, work: str, duration_s: float) -> str:
    return f"""\
name: theory
seed: 2024
run: {{duration: {duration_s}s, warmup: 200s, drain: 10min}}
workload:
  arrivals: {{kind: poisson, rate: {rate_per_s}/s}}
topologies:
  t:
    services:
      server: {{kind: container, concurrency: {workers}, work: {work}}}
    entrypoint:
      - {{call: server}}
"""


EXPONENTIAL = f"{{kind: exponential, mean: {1000 / MU_PER_S}ms}}"


def replicate(text: str, replications: int) -> list[ReplicationResult]:
    scenario = load_scenario_text(text, "<theory>")
    return [simulate(scenario, "t", r) for r in range(replications)]


@dataclass(frozen=True)
class Estimate:
    mean: float
    standard_error: float

    def assert_close(self, exact: float, floor: float, what: str) -> None:
        """Within 3 standard errors, or within the relative floor."""
        tolerance = max(3 * self.standard_error, floor * exact)
        assert abs(self.mean - exact) <= tolerance, (
            f"{what}: {self.mean:.5g} +- {self.standard_error:.2g} (3 se), "
            f"theory {exact:.5g}"
        )


def estimate(
    results: list[ReplicationResult], figure: Callable[[ReplicationResult], float]
) -> Estimate:
    values = [figure(r) for r in results]
    return Estimate(
        statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))
    )


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in M/M/c (a = lambda / mu < c)."""
    top = offered_load**servers / math.factorial(servers)
    top *= servers / (servers - offered_load)
    below = sum(offered_load**k / math.factorial(k) for k in range(servers))
    return top / (below + top)


def test_erlang_c_against_known_values() -> None:
    # One server: the probability of waiting is the utilisation.
    assert erlang_c(1, 0.8) == pytest.approx(0.8)
    # Two servers at a = 1: C = (1/2 * 2) / (1 + 1 + 1) = 1/3.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)


def check_mm1(rho: float, customers: int, replications: int) -> None:
    rate = rho * MU_PER_S
    results = replicate(
        scenario_text(rate, 1, EXPONENTIAL, customers / rate), replications
    )
    excess = MU_PER_S - rate

    mean = estimate(results, lambda r: r.latency.mean_s)
    mean.assert_close(1 / excess, 0.01, f"M/M/1 rho {rho} mean sojourn")
    for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        quantile = estimate(results, lambda r, q=q: r.latency.percentile(q * 100))
        quantile.assert_close(
            -math.log(1 - q) / excess, 0.01, f"M/M/1 rho {rho} sojourn {key}"
        )

    utilisation = estimate(results, lambda r: r.services["server"]["utilisation"])
    utilisation.assert_close(rho, 0.005, f"M/M/1 rho {rho} utilisation")


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mm1_sojourn_time(rho: float) -> None:
    check_mm1(rho, customers=20_000, replications=5)


def check_mmc(servers: int, rho: float, customers: int, replications: int) -> None:
    rate = rho * servers * MU_PER_S
    results = replicate(
        scenario_text(rate, servers, EXPONENTIAL, customers / rate), replications
    )
    wait_s = erlang_c(servers, rate / MU_PER_S) / (servers * MU_PER_S - rate)

    sojourn = estimate(results, lambda r: r.latency.mean_s)
    sojourn.assert_close(
        wait_s + 1 / MU_PER_S, 0.01, f"M/M/{servers} rho {rho} mean sojourn"
    )

    # The queue length is measured on its own, time-weighted: Little's law.
    queue = estimate(results, lambda r: r.services["server"]["queue_length_mean"])
    queue.assert_close(rate * wait_s, 0.02, f"M/M/{servers} rho {rho} queue length")


@pytest.mark.parametrize("servers", [2, 4])
def test_mmc_waiting_time_follows_erlang_c(servers: int) -> None:
    check_mmc(servers, 0.8, customers=25_000, replications=5)


def test_md1_waiting_time_follows_pollaczek_khinchine() -> None:
    # Constant 100 ms of work: E[S^2] = 0.01 s^2.
    rho = 0.7
    rate = rho * MU_PER_S
    results = replicate(scenario_text(rate, 1, "100ms", 20_000 / rate), 5)
    wait_s = rate * 0.01 / (2 * (1 - rho))

    sojourn = estimate(results, lambda r: r.latency.mean_s)
    sojourn.assert_close(wait_s + 0.1, 0.01, "M/D/1 mean sojourn")
    # No request is faster than its work.
    assert min(r.latency.min_s for r in results) == pytest.approx(0.1, abs=1e-9)


@pytest.mark.validation
def test_mm1_sojourn_time_at_high_load() -> None:
    check_mm1(0.9, customers=60_000, replications=6)


@pytest.mark.validation
def test_mmc_waiting_time_long() -> None:
    check_mmc(4, 0.9, customers=60_000, replications=6)


@pytest.mark.validation
def test_mg1_lognormal_waiting_time_follows_pollaczek_khinchine() -> None:
    # Lognormal work with mean and sd 100 ms: E[S^2] = sd^2 + mean^2. (A
    # heavier tail needs far longer runs for an honest standard error.)
    rho = 0.6
    rate = rho * MU_PER_S
    work = "{kind: lognormal, mean: 100ms, sd: 100ms}"
    results = replicate(scenario_text(rate, 1, work, 60_000 / rate), 6)
    wait_s = rate * (0.1**2 + 0.1**2) / (2 * (1 - rho))

    sojourn = estimate(results, lambda r: r.latency.mean_s)
    sojourn.assert_close(wait_s + 0.1, 0.01, "M/G/1 mean sojourn")
