"""Worker pools: a queue and the workers it feeds.

A container service with a shared queue has one pool of ``replicas x
concurrency`` workers; with a per-replica balancing policy it has one pool of
``concurrency`` workers per replica. A pool carries what is measured per
replica and the :class:`simulator.engine.faults.Health` its faults set.
"""

from collections.abc import Callable, Sequence

import simpy

from simulator.engine.faults import Health
from simulator.engine.runtime import Process, Request
from simulator.metrics.timeweighted import TimeWeighted

PoolStep = Callable[[Request], Process]
"""A compiled step, as :data:`simulator.engine.services.Step`."""


class WorkerPool:
    """One queue and its workers.

    Attributes:
        index: The replica's index (0 for a shared queue).
        resource: The workers, as a SimPy resource (FIFO queue).
        capacity: How many workers.
        busy: Busy workers, time-weighted; None when the pool is the
            service's only one (the service measures it).
        health: What faults do to it now; None when the service has none.
        steps: Its own compiled steps when faults slow it down; empty to use
            the service's.
        inflight: Processes of the requests it holds (queued or working),
            kept only when a fault can take it down.
        served: Measured requests it finished.
        rejected: Measured requests its full queue turned away.
    """

    __slots__ = (
        "index",
        "resource",
        "capacity",
        "busy",
        "health",
        "steps",
        "inflight",
        "served",
        "rejected",
    )

    def __init__(
        self, env: simpy.Environment, index: int, capacity: int, own_figures: bool
    ) -> None:
        self.index = index
        self.resource = simpy.Resource(env, capacity=capacity)
        self.capacity = capacity
        self.busy = TimeWeighted() if own_figures else None
        self.health: Health | None = None
        self.steps: Sequence[PoolStep] = ()
        self.inflight: dict[simpy.Process, None] = {}
        self.served = 0
        self.rejected = 0


class ReplicaCrash:
    """The cause of the interrupt that fails a down pool's requests."""

    __slots__ = ("pool",)

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
