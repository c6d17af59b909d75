"""Queueing theory the validation suite compares the engine with.

Notation: arrival rate ``lam`` per second, service rate ``mu`` per second of one
server, ``c`` servers, offered load ``a = lam / mu`` (Erlangs), ``rho = a / c``.
"""

import math
import statistics
from collections.abc import Sequence

from scipy.optimize import brentq


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c (Erlang B), by the stable recursion."""
    blocking = 1.0
    for k in range(1, c + 1):
        blocking = a * blocking / (k + a * blocking)
    return blocking


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c (Erlang C)."""
    blocking = erlang_b(c, a)
    return c * blocking / (c - a * (1.0 - blocking))


def mmc_wait_s(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c: C(c, a) / (c mu - lam)."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mm1k_blocking(rho: float, capacity: int) -> float:
    """Blocking probability of M/M/1/K, K the places in the system."""
    return (1.0 - rho) * rho**capacity / (1.0 - rho ** (capacity + 1))


def pollaczek_khinchine_wait_s(
    lam: float, mean_s: float, second_moment: float
) -> float:
    """Mean wait in queue of M/G/1: lam E[S^2] / (2 (1 - rho))."""
    return lam * second_moment / (2.0 * (1.0 - lam * mean_s))


def hypoexponential_survival(rates: Sequence[float], t: float) -> float:
    """P(T > t) for T a sum of independent exponentials with distinct rates."""
    total = 0.0
    for i, rate in enumerate(rates):
        weight = math.prod(r / (r - rate) for j, r in enumerate(rates) if j != i)
        total += weight * math.exp(-rate * t)
    return total


def hypoexponential_quantile(rates: Sequence[float], q: float) -> float:
    """The q-quantile of a sum of independent exponentials (distinct rates)."""
    high = 100.0 / min(rates)
    return float(
        brentq(lambda t: hypoexponential_survival(rates, t) - (1.0 - q), 0.0, high)
    )


def fork_join_two_s(lam: float, mu: float) -> float:
    """Mean response of a fork into two identical M/M/1 queues and a join.

    Exact for two branches (Flatto and Hahn 1984; Nelson and Tantawi 1988):
    (12 - rho) / 8 x 1 / (mu - lam).
    """
    rho = lam / mu
    return (12.0 - rho) / 8.0 / (mu - lam)


def mean_value_analysis(
    users: int, demands_s: Sequence[float], think_s: float
) -> tuple[float, float]:
    """Exact MVA of a closed network of single-server FCFS stations.

    Returns the throughput per second and the mean response time (think time
    excluded) with ``users`` users.
    """
    queue = [0.0] * len(demands_s)
    throughput = response = 0.0
    for n in range(1, users + 1):
        residence = [d * (1.0 + q) for d, q in zip(demands_s, queue, strict=True)]
        response = sum(residence)
        throughput = n / (think_s + response)
        queue = [throughput * r for r in residence]
    return throughput, response


def within(values: Sequence[float], expected: float, floor: float = 0.0) -> str | None:
    """Check a mean over replications against theory; None if it agrees.

    The tolerance is three standard errors of the mean (the spread of the
    replications over sqrt(n)) or ``floor`` (relative to ``expected``),
    whichever is larger. Otherwise a message with the figures is returned.
    """
    n = len(values)
    mean = statistics.fmean(values)
    standard_error = statistics.stdev(values) / math.sqrt(n)
    tolerance = max(3.0 * standard_error, floor * abs(expected))
    if abs(mean - expected) <= tolerance:
        return None
    return (
        f"mean {mean:.6g} over {n} replications, theory {expected:.6g}: off by "
        f"{abs(mean - expected):.3g} > tolerance {tolerance:.3g} "
        f"(3 SE = {3 * standard_error:.3g}, floor {floor:.2%})"
    )
