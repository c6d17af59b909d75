"""Services: the things that do work, with the capacity that limits them.

A container service is ``replicas x concurrency`` workers fed from one queue
(a request waits until any worker is free). A function (Lambda) creates an
instance per concurrent request on demand: an invocation that finds no idle
warm instance pays a cold start, idle instances expire after the keep-alive,
and invocations beyond its concurrency (its reserved concurrency, or else the
account's unreserved concurrency it shares with the other functions) are
throttled. Provisioned instances are always warm and taken first; asynchronous
invocations wait in the function's event queue (``lambda_events``).

While a request holds a worker or an instance it runs the service's steps,
including its synchronous calls, so a slow downstream keeps upstream workers
busy (thread-per-request).
"""

import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import simpy

from simulator.engine.balancing import Balancer
from simulator.engine.crn import uniform_for_requests
from simulator.engine.distributions import make_sampler
from simulator.engine.faults import FaultSchedule, Health
from simulator.engine.lambda_events import (
    DEFAULT_MAXIMUM_EVENT_AGE_S,
    DEFAULT_RETRIES,
    AsyncFigures,
    EventQueue,
)
from simulator.engine.pools import ReplicaCrash, WorkerPool
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.metrics.timeweighted import TimeWeighted
from simulator.scenario.base import DistributionConfig, LoadBalancingSettings
from simulator.scenario.faults import DownFault, Fault, SlowFault

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
        self.error_draw = uniform_for_requests(
            runtime.streams.seed_of(f"service/{name}/errors")
        )
        self.served = 0

    def handle(self, request: Request) -> Process:
        """Run one request on this service, holding its capacity meanwhile."""
        raise NotImplementedError

    def _run_steps(self, request: Request) -> Process:
        for step in self.steps:
            yield from step(request)
        if self.error_rate and self.error_draw(request) < self.error_rate:
            raise RequestFailed("failed", self.name)

    def start_window(self) -> None:
        """Start the measured window: reset time-weighted figures."""

    def end_window(self) -> None:
        """End the measured window: stop time-weighted figures (not the drain)."""

    def report(self, now: float) -> dict[str, Any]:
        """Return what the service measured over the window."""
        return {"kind": self.kind, "served": self.served}


class ContainerService(Service):
    """A fleet of ``replicas`` copies, each working on ``concurrency`` at once.

    With the default shared queue one FIFO queue feeds every worker (the M/M/c
    model). With a per-replica policy each replica has its own queue and a
    balancer picks the replica of each request, unless a client-side balancer
    (a link's ``load_balancing``) already chose it.

    Every wait is interrupt-safe: a request whose caller cancels it leaves its
    queue or frees its worker at once, and its own calls are cancelled in turn.
    """

    kind = "container"

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        replicas: int,
        concurrency: int,
        error_rate: float = 0.0,
        queue_limit: int | None = None,
        load_balancing: LoadBalancingSettings | None = None,
        faults: Sequence[Fault] = (),
    ) -> None:
        super().__init__(name, runtime, error_rate)
        env = self.env
        self.replicas = replicas
        self.capacity = replicas * concurrency
        self.queue_limit = queue_limit
        self.busy = TimeWeighted()
        self.queued = TimeWeighted()
        self.rejected = 0
        self.cancelled = 0

        # One pool for a shared queue, else one per replica with a balancer.
        balancing = load_balancing or LoadBalancingSettings()
        self.balancer: Balancer | None = None
        if balancing.per_replica:
            self.pools = [
                WorkerPool(env, i, concurrency, True) for i in range(replicas)
            ]
            self.balancer = Balancer(
                balancing, replicas, runtime.streams.get(f"service/{name}/balancer")
            )
        else:
            self.pools = [WorkerPool(env, 0, self.capacity, False)]
        self.shared = self.pools[0]
        self.pool = self.shared.resource
        self.targets: list[ReplicaTarget] = []

        # Faults give every pool a health to read; only a down fault makes
        # the service keep track of the requests each pool holds.
        self.slowed = any(isinstance(fault, SlowFault) for fault in faults)
        self.tracking = any(isinstance(fault, DownFault) for fault in faults)
        self.schedule: FaultSchedule | None = None
        if faults:
            for pool in self.pools:
                pool.health = Health(env)
            self.schedule = FaultSchedule(
                name,
                faults,
                [pool.health for pool in self.pools if pool.health is not None],
                runtime,
                self._down_changed,
            )

        # Most services have one shared queue and no faults, balancer or
        # queue limit: they take the lean path, which does the same thing.
        if self.balancer is None and not faults and queue_limit is None:
            self.handle = self._handle_shared  # type: ignore[method-assign]

    def replica(self, index: int) -> "ReplicaTarget":
        """Return one replica as a callee, for a client-side balancer."""
        if not self.targets:
            self.targets = [ReplicaTarget(self, i) for i in range(len(self.pools))]
        return self.targets[index]

    def handle(self, request: Request, replica: int | None = None) -> Process:
        """Wait for a free worker, run the steps on it, then free it.

        Args:
            request: The request.
            replica: The replica a client-side balancer chose; None lets the
                service's own policy (or its shared queue) decide.
        """
        env = self.env
        # The service's own balancer hears the outcome only of what it picked.
        balancer = self.balancer if replica is None else None
        if replica is not None:
            pool = self.pools[replica]
        elif balancer is None:
            pool = self.shared
        else:
            pool = self.pools[balancer.pick(env.now, request.measured)]
        resource = pool.resource
        health = pool.health
        tracking = self.tracking
        process = env.active_process
        if tracking and process is not None:
            pool.inflight[process] = None

        cause: str | None = "cancelled"
        slot = None
        try:
            if health is not None and health.down:
                if health.hang:
                    yield health.restarted
                raise RequestFailed("failed", self.name)

            limit = self.queue_limit
            if (
                limit is not None
                and resource.count >= pool.capacity
                and len(resource.queue) >= limit
            ):
                if request.measured:
                    self.rejected += 1
                    pool.rejected += 1
                raise RequestFailed("rejected", self.name)

            # A worker that is free is granted at once; skip the event round trip.
            slot = resource.request()
            if not slot.triggered:
                self.queued.change(env.now, 1.0)
                try:
                    yield slot
                finally:
                    self.queued.change(env.now, -1.0)

            self.busy.change(env.now, 1.0)
            if pool.busy is not None:
                pool.busy.change(env.now, 1.0)
            try:
                if health is not None:
                    yield from self._faulted(request, health)
                for step in pool.steps or self.steps:
                    yield from step(request)
                if self.error_rate and self.error_draw(request) < self.error_rate:
                    raise RequestFailed("failed", self.name)
            finally:
                self.busy.change(env.now, -1.0)
                if pool.busy is not None:
                    pool.busy.change(env.now, -1.0)
            cause = None
        except RequestFailed as failure:
            cause = failure.cause
            raise
        except simpy.Interrupt as interrupt:
            crash = interrupt.cause
            if isinstance(crash, ReplicaCrash) and crash.pool is pool:
                cause = "failed"
                raise RequestFailed("failed", self.name) from None
            if request.measured:
                self.cancelled += 1
            raise
        finally:
            # Leave the queue, or free the worker (also one granted at the
            # very instant of a cancellation).
            if slot is not None:
                if slot.triggered:
                    resource.release(slot)
                else:
                    slot.cancel()
            if tracking and process is not None:
                del pool.inflight[process]
            if balancer is not None:
                balancer.finished(pool.index, cause, env.now)
            if request.measured and cause != "cancelled":
                self.served += 1
                pool.served += 1

    def _handle_shared(self, request: Request, replica: int | None = None) -> Process:
        # handle() for a plain shared queue, without the branches it never takes.
        env = self.env
        resource = self.pool
        cancelled = True
        slot = resource.request()
        try:
            # A worker that is free is granted at once; skip the event round trip.
            if not slot.triggered:
                self.queued.change(env.now, 1.0)
                try:
                    yield slot
                finally:
                    self.queued.change(env.now, -1.0)

            busy = self.busy
            busy.change(env.now, 1.0)
            try:
                cancelled = False
                steps = self.steps
                sampler = None
                if len(steps) == 1:
                    sampler = getattr(steps[0], "sampler", None)
                if sampler is not None:
                    # One compute step: wait here, one generator frame fewer.
                    yield env.timeout(sampler(request))
                else:
                    for step in steps:
                        yield from step(request)
                if self.error_rate and self.error_draw(request) < self.error_rate:
                    raise RequestFailed("failed", self.name)
            finally:
                busy.change(env.now, -1.0)
        except simpy.Interrupt:
            cancelled = True
            if request.measured:
                self.cancelled += 1
            raise
        finally:
            if slot.triggered:
                resource.release(slot)
            else:
                slot.cancel()
            if request.measured and not cancelled:
                self.served += 1
                self.shared.served += 1

    def _faulted(self, request: Request, health: Health) -> Process:
        # What the faults holding now do before the work: fail the request
        # at once, or hold the worker longer.
        schedule = self.schedule
        if (
            health.error_rate
            and schedule is not None
            and schedule.error_draw(request) < health.error_rate
        ):
            raise RequestFailed("failed", self.name)
        if health.added_latency:
            delay = health.extra_latency_s(request)
            if delay > 0:
                yield self.env.timeout(delay)

    def _down_changed(self, index: int, down: bool) -> None:
        # A pool that goes down fails every request it holds, queued or working.
        if not down:
            return
        pool = self.pools[index]
        crash = ReplicaCrash(pool)
        for process in list(pool.inflight):
            if process.is_alive:
                process.interrupt(crash)

    def _levels(self) -> list[TimeWeighted]:
        # Every time-weighted figure of the service and its replicas.
        replicas = [pool.busy for pool in self.pools if pool.busy is not None]
        return [self.busy, self.queued, *replicas]

    def start_window(self) -> None:
        """Start the measured window: reset time-weighted figures."""
        now = self.env.now
        for level in self._levels():
            level.start(now)

    def end_window(self) -> None:
        """End the measured window: stop time-weighted figures (not the drain)."""
        now = self.env.now
        for level in self._levels():
            level.stop(now)

    def report(self, now: float) -> dict[str, Any]:
        """Return utilisation and queue length, time-weighted over the window."""
        figures: dict[str, Any] = {
            "kind": self.kind,
            "served": self.served,
            "replicas": self.replicas,
            "workers": self.capacity,
            "utilisation": self.busy.average(now) / self.capacity,
            "busy_workers_mean": self.busy.average(now),
            "queue_length_mean": self.queued.average(now),
            "queue_length_peak": self.queued.peak,
            "rejected": self.rejected,
            "cancelled": self.cancelled,
        }
        if self.balancer is not None:
            figures["load_balancing"] = self.balancer.report()
            figures["per_replica"] = {
                str(pool.index): {
                    "served": pool.served,
                    "utilisation": pool.busy.average(now) / pool.capacity
                    if pool.busy is not None
                    else 0.0,
                    "rejected": pool.rejected,
                }
                for pool in self.pools
            }
        return figures


class ReplicaTarget(Service):
    """One replica of a container service, as a client-side balancer calls it."""

    def __init__(self, service: ContainerService, index: int) -> None:
        super().__init__(service.name, service.runtime, 0.0)
        self.kind = service.kind
        self.service = service
        self.index = index

    def handle(self, request: Request) -> Process:
        """Run the request on this replica (its queue, its workers)."""
        return self.service.handle(request, self.index)


class ConcurrencyPool:
    """Concurrent executions that a set of functions may have at once.

    A function with reserved concurrency has a pool of its own; the others
    share the account's unreserved concurrency. Provisioned instances are
    outside the pools: they are set aside when the pools are sized.

    Attributes:
        limit: Executions the pool allows at once.
        in_use: Executions running now.
    """

    def __init__(self, env: simpy.Environment, limit: int) -> None:
        self.env = env
        self.limit = limit
        self.in_use = 0
        self._freed: simpy.Event | None = None

    def freed(self) -> simpy.Event:
        """Return an event that fires at the next release of an execution."""
        if self._freed is None:
            self._freed = self.env.event()
        return self._freed

    def notify(self) -> None:
        """Wake whoever waits for an execution to be released."""
        freed = self._freed
        if freed is not None:
            self._freed = None
            freed.succeed()


class LambdaService(Service):
    """A function: one instance per concurrent invocation, made on demand.

    ``provisioned`` instances are initialised ahead and never cold-start; they
    are billed for the whole window (GB-seconds of allocation) and their
    invocations at the provisioned duration rate. Invocations beyond them spill
    over to on-demand instances, within the function's concurrency pool.
    """

    kind = "lambda"

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        memory_mb: int,
        architecture: str,
        cold_start: DistributionConfig,
        keep_alive_s: float,
        concurrency: ConcurrencyPool | int,
        error_rate: float = 0.0,
        provisioned: int = 0,
        event_retries: int = DEFAULT_RETRIES,
        maximum_event_age_s: float = DEFAULT_MAXIMUM_EVENT_AGE_S,
    ) -> None:
        super().__init__(name, runtime, error_rate)
        self.memory_gb = memory_mb / 1024
        self.duration_meter = f"lambda.duration-{architecture}"
        self.provisioned_meter = f"lambda.provisioned-duration-{architecture}"
        self.init = make_sampler(
            cold_start, runtime.streams.get(f"service/{name}/init")
        )
        self.keep_alive_s = keep_alive_s
        self.pool = (
            concurrency
            if isinstance(concurrency, ConcurrencyPool)
            else ConcurrencyPool(runtime.env, concurrency)
        )
        self.idle: deque[float] = deque()
        self.provisioned = provisioned
        self.provisioned_idle = provisioned
        self.running = 0
        self.busy = TimeWeighted()
        self.invocations = 0
        self.cold_starts = 0
        self.provisioned_invocations = 0
        self.throttled = 0
        self.events = EventQueue(self, event_retries, maximum_event_age_s)
        runtime.meters.declare(name, "lambda.requests")
        runtime.meters.declare(name, self.duration_meter)

        # Provisioned instances are billed for being there, used or not.
        if provisioned:
            runtime.meters.declare(name, self.provisioned_meter)
            runtime.meter_allocation(
                name,
                f"lambda.provisioned-concurrency-{architecture}",
                provisioned * self.memory_gb,
            )

    def _expire(self, now: float) -> None:
        # Idle instances are kept oldest first; those past the keep-alive are gone.
        idle = self.idle
        keep_alive = self.keep_alive_s
        while idle and now - idle[0] >= keep_alive:
            idle.popleft()

    def acquire(self, request: Request) -> str | None:
        """Take an instance for ``request`` now; None when throttled.

        A provisioned instance is taken first (always warm); beyond them an
        on-demand instance needs room in the concurrency pool, and is the most
        recently used idle one or, if none is idle, a cold start.

        Returns:
            ``provisioned``, ``warm`` or ``cold``, or None if no instance may run.
        """
        now = self.env.now
        self._expire(now)

        if self.provisioned_idle:
            self.provisioned_idle -= 1
            slot = "provisioned"
        else:
            pool = self.pool
            if pool.in_use >= pool.limit:
                return None
            pool.in_use += 1
            if self.idle:
                self.idle.pop()
                slot = "warm"
            else:
                slot = "cold"

        self.running += 1
        self.busy.change(now, 1.0)
        self.runtime.meter(request, self.name, "lambda.requests", 1.0)
        if request.measured:
            self.invocations += 1
            self.cold_starts += slot == "cold"
            self.provisioned_invocations += slot == "provisioned"
        return slot

    def run(self, request: Request, slot: str) -> Process:
        """Run the handler on an instance taken by :meth:`acquire`, bill it."""
        env = self.env
        start = env.now
        try:
            if slot == "cold":
                yield env.timeout(self.init())
            yield from self._run_steps(request)
        finally:
            end = env.now
            self.running -= 1
            self.busy.change(end, -1.0)
            if slot == "provisioned":
                self.provisioned_idle += 1
            else:
                self.pool.in_use -= 1
                self.idle.append(end)
            self.pool.notify()
            if request.measured:
                self.served += 1

            # Billed duration (init included) is rounded up to the next 1 ms;
            # provisioned instances run at their own, lower rate.
            billed_ms = math.ceil((end - start) * 1000.0 - 1e-9)
            meter = (
                self.provisioned_meter if slot == "provisioned" else self.duration_meter
            )
            self.runtime.meter(
                request, self.name, meter, billed_ms / 1000.0 * self.memory_gb
            )

    def handle(self, request: Request) -> Process:
        """Invoke synchronously: take an instance or be throttled, then run."""
        slot = self.acquire(request)
        if slot is None:
            if request.measured:
                self.throttled += 1
            raise RequestFailed("throttled", self.name)
        return (yield from self.run(request, slot))

    def capacity_freed(self) -> simpy.Event:
        """Return an event that fires when an instance of the pool is released."""
        return self.pool.freed()

    def invoke_event(self, request: Request, figures: AsyncFigures) -> None:
        """Accept an asynchronous (Event) invocation onto the internal queue."""
        self.events.put(request, figures)

    def start_window(self) -> None:
        """Start the measured window: reset time-weighted figures."""
        now = self.env.now
        self._expire(now)
        self.busy.start(now)

    def end_window(self) -> None:
        """End the measured window: stop time-weighted figures (not the drain)."""
        self.busy.stop(self.env.now)

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
            "provisioned": self.provisioned,
            "provisioned_invocations": self.provisioned_invocations,
            "events_pending": len(self.events.pending),
            "concurrency_mean": self.busy.average(now),
            "concurrency_peak": self.busy.peak,
        }
