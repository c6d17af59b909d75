"""Services: the things that do work, with the capacity that limits them.

A container service is ``replicas x concurrency`` workers fed from one queue
(a request waits until any worker is free). A function (Lambda) creates an
instance per concurrent request on demand: an invocation that finds no idle
warm instance pays a cold start, idle instances expire after the keep-alive,
and invocations beyond the concurrency limit are throttled.

While a request holds a worker or an instance it runs the service's steps,
including its synchronous calls, so a slow downstream keeps upstream workers
busy (thread-per-request).
"""

import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import simpy

from simulator.engine.distributions import make_sampler
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.metrics.timeweighted import TimeWeighted
from simulator.scenario.base import DistributionConfig

Step = Callable[[Request], Process]
"""A compiled step: a generator function run inside a request."""


class Service:
    """The common face of every service kind.

    Attributes:
        name: The service's name in the topology.
        kind: ``container`` or ``lambda``.
    """

    kind = ""

    def __init__(self, name: str, runtime: Runtime, error_rate: float) -> None:
        self.name = name
        self.runtime = runtime
        self.env = runtime.env
        self.steps: Sequence[Step] = ()
        self.error_rate = error_rate
        self.errors_stream = runtime.streams.get(f"service/{name}/errors").random
        self.served = 0

    def handle(self, request: Request) -> Process:
        """Run one request on this service, holding its capacity meanwhile."""
        raise NotImplementedError

    def _run_steps(self, request: Request) -> Process:
        for step in self.steps:
            yield from step(request)
        if self.error_rate and self.errors_stream() < self.error_rate:
            raise RequestFailed("failed", self.name)

    def start_window(self) -> None:
        """Start the measured window: reset time-weighted figures."""

    def report(self, now: float) -> dict[str, Any]:
        """Return what the service measured over the window."""
        return {"kind": self.kind, "served": self.served}


class ContainerService(Service):
    """A fleet of ``replicas`` copies, each working on ``concurrency`` at once."""

    kind = "container"

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        replicas: int,
        concurrency: int,
        error_rate: float = 0.0,
        queue_limit: int | None = None,
    ) -> None:
        super().__init__(name, runtime, error_rate)
        self.replicas = replicas
        self.capacity = replicas * concurrency
        self.pool = simpy.Resource(self.env, capacity=self.capacity)
        self.queue_limit = queue_limit
        self.busy = TimeWeighted()
        self.queued = TimeWeighted()
        self.rejected = 0

    def handle(self, request: Request) -> Process:
        """Wait for a free worker, run the steps on it, then free it."""
        env = self.env
        pool = self.pool
        limit = self.queue_limit
        if (
            limit is not None
            and pool.count >= self.capacity
            and len(pool.queue) >= limit
        ):
            if request.measured:
                self.rejected += 1
            raise RequestFailed("rejected", self.name)

        # A worker that is free is granted at once; skip the event round trip.
        slot = pool.request()
        if not slot.triggered:
            self.queued.change(env.now, 1.0)
            yield slot
            self.queued.change(env.now, -1.0)
        self.busy.change(env.now, 1.0)

        try:
            yield from self._run_steps(request)
        finally:
            pool.release(slot)
            self.busy.change(env.now, -1.0)
            if request.measured:
                self.served += 1

    def start_window(self) -> None:
        """Start the measured window: reset time-weighted figures."""
        now = self.env.now
        self.busy.start(now)
        self.queued.start(now)

    def report(self, now: float) -> dict[str, Any]:
        """Return utilisation and queue length, time-weighted over the window."""
        return {
            "kind": self.kind,
            "served": self.served,
            "replicas": self.replicas,
            "workers": self.capacity,
            "utilisation": self.busy.average(now) / self.capacity,
            "busy_workers_mean": self.busy.average(now),
            "queue_length_mean": self.queued.average(now),
            "queue_length_peak": self.queued.peak,
            "rejected": self.rejected,
        }


class LambdaService(Service):
    """A function: one instance per concurrent invocation, made on demand."""

    kind = "lambda"

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        memory_mb: int,
        architecture: str,
        cold_start: DistributionConfig,
        keep_alive_s: float,
        concurrency_limit: int,
        error_rate: float = 0.0,
    ) -> None:
        super().__init__(name, runtime, error_rate)
        self.memory_gb = memory_mb / 1024
        self.duration_meter = f"lambda.duration-{architecture}"
        self.init = make_sampler(
            cold_start, runtime.streams.get(f"service/{name}/init")
        )
        self.keep_alive_s = keep_alive_s
        self.limit = concurrency_limit
        self.idle: deque[float] = deque()
        self.running = 0
        self.busy = TimeWeighted()
        self.invocations = 0
        self.cold_starts = 0
        self.throttled = 0
        runtime.meters.declare(name, "lambda.requests")
        runtime.meters.declare(name, self.duration_meter)

    def _expire(self, now: float) -> None:
        # Idle instances are kept oldest first; those past the keep-alive are gone.
        idle = self.idle
        keep_alive = self.keep_alive_s
        while idle and now - idle[0] >= keep_alive:
            idle.popleft()

    def handle(self, request: Request) -> Process:
        """Take a warm instance or start a cold one, run the handler, bill it."""
        env = self.env
        now = env.now
        self._expire(now)

        # The most recently used idle instance is reused first.
        if self.idle:
            self.idle.pop()
            cold = False
        elif self.running < self.limit:
            cold = True
        else:
            if request.measured:
                self.throttled += 1
            raise RequestFailed("throttled", self.name)

        self.running += 1
        self.busy.change(now, 1.0)
        self.runtime.meter(request, self.name, "lambda.requests", 1.0)
        if request.measured:
            self.invocations += 1
            self.cold_starts += cold

        try:
            if cold:
                yield env.timeout(self.init())
            yield from self._run_steps(request)
        finally:
            end = env.now
            self.running -= 1
            self.busy.change(end, -1.0)
            self.idle.append(end)
            if request.measured:
                self.served += 1

            # Billed duration (init included) is rounded up to the next 1 ms.
            billed_ms = math.ceil((end - now) * 1000.0 - 1e-9)
            self.runtime.meter(
                request,
                self.name,
                self.duration_meter,
                billed_ms / 1000.0 * self.memory_gb,
            )

    def start_window(self) -> None:
        """Start the measured window: reset time-weighted figures."""
        now = self.env.now
        self._expire(now)
        self.busy.start(now)

    def report(self, now: float) -> dict[str, Any]:
        """Return invocations, cold starts, throttles and concurrency."""
        self._expire(now)
        return {
            "kind": self.kind,
            "served": self.served,
            "invocations": self.invocations,
            "cold_starts": self.cold_starts,
            "cold_start_rate": self.cold_starts / self.invocations
            if self.invocations
            else 0.0,
            "throttled": self.throttled,
            "concurrency_mean": self.busy.average(now),
            "concurrency_peak": self.busy.peak,
        }
