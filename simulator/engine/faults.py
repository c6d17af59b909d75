"""Faults in time: a schedule that changes the health of worker pools.

Each pool of a container service (the shared queue, or one replica) has a
:class:`Health` that the service reads per request: how much slower its work
runs, what latency is added, what fraction of requests fails at once, and
whether it is down. A :class:`FaultSchedule` runs one process per fault that
recomputes the health of the pools it hits when the fault starts and ends.
"""

from collections.abc import Callable, Sequence

import simpy

from simulator.engine.crn import (
    RequestSampler,
    make_request_sampler,
    uniform_for_requests,
)
from simulator.engine.distributions import is_zero
from simulator.engine.runtime import Process, Request, Runtime
from simulator.scenario.faults import DownFault, ErrorFault, Fault, SlowFault


class Health:
    """What the faults holding now do to one pool of workers.

    Attributes:
        speed_factor: Work times are multiplied by it (compute steps read it).
        added_latency: Samplers of extra time a request holds its worker.
        error_rate: Fraction of requests that fail at once.
        down: Whether the pool is down.
        hang: While down, whether requests hang (else they are refused).
        restarted: Succeeds when a down pool restarts; hanging requests wait on it.
    """

    __slots__ = (
        "speed_factor",
        "added_latency",
        "error_rate",
        "down",
        "hang",
        "restarted",
    )

    def __init__(self, env: simpy.Environment) -> None:
        self.speed_factor = 1.0
        self.added_latency: list[RequestSampler] = []
        self.error_rate = 0.0
        self.down = False
        self.hang = False
        self.restarted = env.event()

    def extra_latency_s(self, request: Request) -> float:
        """Draw the latency the holding faults add to one request."""
        return sum(sample(request) for sample in self.added_latency)


DownChange = Callable[[int, bool], None]
"""Called with a pool's index and True when it goes down, False when it restarts."""


class FaultSchedule:
    """Starts and ends a service's faults at their instants.

    Args:
        service: The service's name (it names the random streams).
        faults: The faults, as written in the scenario.
        healths: One health per pool: a single one for a shared queue, else
            one per replica, in replica order.
        runtime: The shared runtime.
        on_down: Told when a pool goes down or restarts.
    """

    def __init__(
        self,
        service: str,
        faults: Sequence[Fault],
        healths: Sequence[Health],
        runtime: Runtime,
        on_down: DownChange,
    ) -> None:
        self.env = runtime.env
        self.faults = list(faults)
        self.healths = list(healths)
        self.on_down = on_down
        self.holding: list[int] = []
        streams = runtime.streams
        self.latency: dict[int, RequestSampler] = {
            index: make_request_sampler(
                fault.added_latency,
                streams.seed_of(f"service/{service}/fault{index}/latency"),
            )
            for index, fault in enumerate(self.faults)
            if isinstance(fault, SlowFault) and not is_zero(fault.added_latency)
        }
        self.error_draw = uniform_for_requests(
            streams.seed_of(f"service/{service}/fault-errors")
        )
        for index in range(len(self.faults)):
            self.env.process(self._run(index))

    def _run(self, index: int) -> Process:
        fault = self.faults[index]
        yield self.env.timeout(fault.start)
        self.holding.append(index)
        self._refresh(fault)
        yield self.env.timeout(fault.end - fault.start)
        self.holding.remove(index)
        self._refresh(fault)

    def _hits(self, fault: Fault, pool: int) -> bool:
        # A whole-service fault hits every pool; with a shared queue there is
        # only one pool and faults always hit it.
        return fault.replica is None or fault.replica == pool or len(self.healths) == 1

    def _refresh(self, changed: Fault) -> None:
        for pool, health in enumerate(self.healths):
            if self._hits(changed, pool):
                self._recompute(pool, health)

    def _recompute(self, pool: int, health: Health) -> None:
        holding = [
            (index, self.faults[index])
            for index in sorted(self.holding)
            if self._hits(self.faults[index], pool)
        ]

        # Combine what holds: factors multiply, latencies add, error draws
        # are independent, and a pool is down while any down fault holds.
        speed, survive = 1.0, 1.0
        latency: list[RequestSampler] = []
        downs: list[DownFault] = []
        for index, fault in holding:
            if isinstance(fault, SlowFault):
                speed *= fault.factor
                if index in self.latency:
                    latency.append(self.latency[index])
            elif isinstance(fault, ErrorFault):
                survive *= 1.0 - fault.error_rate
            else:
                downs.append(fault)
        health.speed_factor = speed
        health.added_latency = latency
        health.error_rate = 1.0 - survive

        was_down = health.down
        health.down = bool(downs)
        health.hang = bool(downs) and all(d.mode == "hang" for d in downs)
        if health.down and not was_down:
            self.on_down(pool, True)
        elif was_down and not health.down:
            restarted = health.restarted
            health.restarted = self.env.event()
            restarted.succeed()
            self.on_down(pool, False)
