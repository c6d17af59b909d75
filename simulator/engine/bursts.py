"""Bursts: extra open-loop arrivals for a while, on top of the steady rate.

A burst is a second arrival process of the same kind as the steady one
(Poisson or constant), running from its start for its duration; superposed
Poisson processes are a Poisson process with the summed rate. Each burst draws
from its own stream (``arrivals/burst<i>``), so adding one leaves the steady
arrivals unchanged.
"""

from collections.abc import Callable

from simulator.engine.runtime import Process, Runtime
from simulator.scenario.model import Burst

StartRequest = Callable[[float], None]
"""Admits and starts serving one request arriving at the given time."""


def burst_arrivals(
    runtime: Runtime, burst: Burst, index: int, poisson: bool, start: StartRequest
) -> Process:
    """Generate one burst's arrivals until it or the measured window ends."""
    env = runtime.env
    rng = runtime.streams.get(f"arrivals/burst{index}")
    rate = burst.rate
    end_s = burst.start + burst.duration
    yield env.timeout(burst.start)
    while True:
        yield env.timeout(rng.expovariate(rate) if poisson else 1.0 / rate)
        now = env.now
        if now >= end_s or now >= runtime.window_end_s:
            return
        start(now)
