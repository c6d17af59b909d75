"""One replication of one topology: build it, feed it arrivals, measure it.

Lifecycle: the warm-up runs unmeasured; the measured window starts (time-weighted
figures reset) and requests arriving in it are measured; at its end arrivals
stop and the run goes on for at most ``drain`` so measured requests, and the
asynchronous flows they started (:mod:`simulator.messaging`), can finish.
Latency is that of measured requests; throughput counts completions inside the
window, whatever their arrival time.

The window lasts ``run.duration``, or ends at the arrival of the
``run.requests``-th measured request. With ``run.warmup: auto`` the warm-up is
chosen per replication by MSER-5 (:mod:`simulator.engine.warmup`): a pilot run
collects the latency series, then the replication runs with that warm-up.

Requests in flight are a time-weighted level too: over the window for the
report, and, for measured requests only, from the window's start to the end of
the run, so that on a run that drains Little's law ``L = lambda W`` holds as
an identity (:meth:`ReplicationResult.littles_law`).
"""

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import simpy

from simulator.engine.bursts import burst_arrivals
from simulator.engine.distributions import make_sampler
from simulator.engine.hop import Hop
from simulator.engine.runtime import (
    ERROR_CAUSES,
    Process,
    Request,
    RequestFailed,
    Runtime,
)
from simulator.engine.services import (
    ConcurrencyPool,
    ContainerService,
    LambdaService,
    Service,
)
from simulator.engine.steps import StepCompiler
from simulator.engine.streams import Streams
from simulator.engine.warmup import BatchSeries, WarmupCut
from simulator.messaging.flows import FlowFigures
from simulator.messaging.system import Messaging
from simulator.metrics.histogram import LatencyHistogram
from simulator.metrics.timeweighted import InFlight
from simulator.patterns import HOPS
from simulator.scenario.base import distribution_mean
from simulator.scenario.model import (
    Arrivals,
    ClosedUsers,
    ContainerServiceConfig,
    LambdaServiceConfig,
    Scenario,
    Topology,
)
from simulator.scenario.references import link_ends

log = logging.getLogger("simulator.engine")

Progress = Callable[[float], None]
"""Called with the simulated time reached, in seconds."""

_PROGRESS_CHUNKS = 50


@dataclass
class ReplicationResult:
    """What one replication of one topology measured.

    Attributes:
        topology: The topology's name.
        replication: The replication's index, from 0.
        window_s: Length of the measured window.
        arrived: Requests that arrived inside the window.
        succeeded: Of those, the ones that completed successfully.
        errors: Of those, the ones that failed, by cause.
        in_flight: Of those, the ones still unfinished when the run ended.
        completed_in_window: Requests (any arrival) that finished in the window.
        succeeded_in_window: Of those, the successful ones.
        latency: End-to-end latency of the successful measured requests.
        services: Each service's own figures.
        hops: Each link's own figures.
        meters: Usage in the window: (component, meter) -> (quantity, scaling).
        events: SimPy events processed, for speed figures.
        warmup_s: The warm-up: when the window started.
        warmup_cut: What MSER-5 chose, with ``run.warmup: auto``.
        sojourn_total_s: Summed time in the system of the measured requests
            that finished, successful or not.
        in_flight_mean: Requests in flight (any arrival), time-weighted over
            the window.
        measured_in_flight_area: Integral of the measured requests in flight
            from the window's start to the end of the run.
        run_end_s: When the run ended (after the drain).
        async_flows: Each asynchronous flow's figures, by root channel.
        channels: Each channel's figures (queues, topics, logs).
    """

    topology: str
    replication: int
    window_s: float
    arrived: int = 0
    succeeded: int = 0
    errors: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(ERROR_CAUSES, 0)
    )
    in_flight: int = 0
    completed_in_window: int = 0
    succeeded_in_window: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    hops: dict[str, dict[str, Any]] = field(default_factory=dict)
    meters: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)
    warmup_s: float = 0.0
    warmup_cut: WarmupCut | None = None
    sojourn_total_s: float = 0.0
    in_flight_mean: float = 0.0
    measured_in_flight_area: float = 0.0
    run_end_s: float = 0.0
    async_flows: dict[str, FlowFigures] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def littles_law(self) -> tuple[float, float, float] | None:
        """Return (L, lambda, W) over the window and drain, if the run drained.

        L is the time-average of measured requests in flight from the window's
        start to the end of the run, lambda their arrival rate over the same
        span and W their mean time in the system. None unless every measured
        request finished; then L = lambda x W up to rounding.
        """
        span_s = self.run_end_s - self.warmup_s
        finished = self.arrived - self.in_flight
        if self.in_flight or not finished or span_s <= 0:
            return None
        return (
            self.measured_in_flight_area / span_s,
            self.arrived / span_s,
            self.sojourn_total_s / finished,
        )


def build_services(topology: Topology, runtime: Runtime) -> dict[str, Service]:
    """Create the services of a topology (their steps are compiled later)."""
    services: dict[str, Service] = {}
    account_pool = unreserved_pool(topology, runtime)
    for name, config in topology.services.items():
        if isinstance(config, ContainerServiceConfig):
            services[name] = ContainerService(
                name,
                runtime,
                replicas=config.replicas,
                concurrency=config.concurrency,
                error_rate=config.error_rate,
                queue_limit=config.queue_limit,
                load_balancing=config.load_balancing,
                faults=config.faults,
            )
        elif isinstance(config, LambdaServiceConfig):
            services[name] = LambdaService(
                name,
                runtime,
                memory_mb=config.memory_mb,
                architecture=config.architecture,
                cold_start=config.cold_start,
                keep_alive_s=config.keep_alive,
                concurrency=account_pool
                if config.concurrency_limit is None
                else ConcurrencyPool(
                    runtime.env,
                    config.concurrency_limit - config.provisioned_concurrency,
                ),
                error_rate=config.error_rate,
                provisioned=config.provisioned_concurrency,
                event_retries=config.event_invoke.retries,
                maximum_event_age_s=config.event_invoke.maximum_event_age,
            )
    return services


def unreserved_pool(topology: Topology, runtime: Runtime) -> ConcurrencyPool:
    """Return the account's Lambda concurrency left to unreserved functions.

    Reserved concurrency and the provisioned instances of unreserved functions
    are set aside from the account's concurrency; the rest is shared.
    """
    set_aside = 0
    for config in topology.services.values():
        if isinstance(config, LambdaServiceConfig):
            if config.concurrency_limit is not None:
                set_aside += config.concurrency_limit
            else:
                set_aside += config.provisioned_concurrency
    limit = max(topology.lambda_account_concurrency - set_aside, 0)
    return ConcurrencyPool(runtime.env, limit)


class TopologyRun:
    """A topology built inside one runtime, ready to run one replication."""

    def __init__(
        self,
        scenario: Scenario,
        topology_name: str,
        replication: int,
        warmup_s: float | None = None,
        series: BatchSeries | None = None,
    ) -> None:
        """Build the topology.

        Args:
            scenario: The validated scenario.
            topology_name: Which of its topologies to build.
            replication: The replication index; it selects the random streams.
            warmup_s: The warm-up, instead of the scenario's (``auto`` runs
                without one unless this is given).
            series: Collects the latency series for MSER-5, in a pilot run.
        """
        run = scenario.run
        if warmup_s is None:
            warmup_s = 0.0 if run.warmup == "auto" else float(run.warmup)
        # By requests the window's end is not known until the last one arrives.
        end_s = math.inf if run.duration is None else warmup_s + run.duration
        self.scenario = scenario
        self.topology = scenario.topologies[topology_name]
        self.runtime = Runtime(Streams(scenario.seed, replication), warmup_s, end_s)
        self.env = self.runtime.env
        self.result = ReplicationResult(
            topology_name, replication, run.duration or 0.0, warmup_s=warmup_s
        )

        self.services = build_services(self.topology, self.runtime)
        self.hops: dict[str, Hop] = {
            name: HOPS[config.pattern](name, config, self.runtime)
            for name, config in self.topology.links.items()
        }
        compiler = StepCompiler(
            self.runtime, self.services, self.hops, scenario.workload
        )
        self.messaging = Messaging(scenario, self.topology, self.runtime, self.services)
        compiler.messaging = self.messaging
        for name, service in self.services.items():
            config = self.topology.services[name]
            service.steps = compiler.compile(config.all_steps(), f"service/{name}")
            if isinstance(service, ContainerService) and service.slowed:
                # A pool slowed by a fault runs its own copy of the steps.
                for pool in service.pools:
                    pool.steps = compiler.compile(
                        config.all_steps(), f"service/{name}", pool.health
                    )
        self.entry = compiler.compile(self.topology.entrypoint, "entrypoint")
        self.messaging.attach()
        self.messaging.flows.on_idle = self._drain_done
        self.runtime.on_async_idle = self._drain_done
        for name, (callers, callees) in link_ends(self.topology).items():
            self.hops[name].attach(
                [self.services.get(caller) for caller in callers],
                [self.services[callee] for callee in callees],
            )

        self.measured_in_flight = 0
        self.drained = self.env.event()
        self.window_closed = self.env.event()
        self.requests_limit = 0 if run.requests is None else int(run.requests)
        self.arrival_index = 0
        self.in_flight = InFlight()
        self.series = series

    def _admit(self, now: float) -> Request:
        """Count a request arriving at ``now`` and return it."""
        self.arrival_index += 1
        measured = now >= self.runtime.window_start_s
        self.in_flight.change(now, 1, measured)
        if measured:
            self.measured_in_flight += 1
            result = self.result
            result.arrived += 1
            if result.arrived == self.requests_limit:
                # The window ends with the arrival of the last measured request.
                self.runtime.window_end_s = now
                self.window_closed.succeed()
        return Request(self.arrival_index, now, measured)

    def _serve(self, request: Request) -> Process:
        env = self.env
        result = self.result
        cause = None
        try:
            for step in self.entry:
                yield from step(request)
        except RequestFailed as failure:
            cause = failure.cause
        except simpy.Interrupt:
            # A replica that went down while two of its services held this
            # request interrupts it twice; the second finds no taker.
            cause = "failed"

        now = env.now
        self.in_flight.change(now, -1, request.measured)
        if self.series is not None:
            latency = None if cause is not None else now - request.start_s
            self.series.add(request.id, request.start_s, latency)
        if request.measured:
            self.measured_in_flight -= 1
            result.sojourn_total_s += now - request.start_s
            if cause is None:
                result.succeeded += 1
                result.latency.record(now - request.start_s)
            else:
                result.errors[cause] += 1
            if self.measured_in_flight == 0 and now >= self.runtime.window_end_s:
                self._drain_done()
        if self.runtime.window_start_s <= now < self.runtime.window_end_s:
            result.completed_in_window += 1
            if cause is None:
                result.succeeded_in_window += 1

    def _start_request(self, now: float) -> None:
        self.env.process(self._serve(self._admit(now)))

    def _drain_done(self) -> None:
        # Drained: no measured request in flight, nor any of their async flows.
        if (
            self.measured_in_flight == 0
            and not self.messaging.flows.open_flows
            and not self.runtime.async_open
            and self.env.now >= self.runtime.window_end_s
            and not self.drained.triggered
        ):
            self.drained.succeed()

    def _arrivals(self, arrivals: Arrivals) -> Process:
        env = self.env
        runtime = self.runtime
        rng = self.runtime.streams.get("arrivals")
        rate = arrivals.rate
        constant_gap = 1.0 / rate
        expovariate = rng.expovariate

        def gap() -> float:
            return expovariate(rate) if poisson else constant_gap

        poisson = arrivals.kind == "poisson"
        serve = self._serve
        admit = self._admit
        process = env.process

        while True:
            yield env.timeout(gap())
            now = env.now
            if now >= runtime.window_end_s:
                return
            process(serve(admit(now)))

    def _users(self, users: ClosedUsers) -> None:
        think = make_sampler(
            users.think_time, self.runtime.streams.get("workload/think_time")
        )
        for _ in range(users.users):
            self.env.process(self._user(think))

    def _user(self, think: Callable[[], float]) -> Process:
        # A closed-loop user waits for each response before thinking again.
        env = self.env
        runtime = self.runtime
        while True:
            yield env.timeout(think())
            now = env.now
            if now >= runtime.window_end_s:
                return
            yield from self._serve(self._admit(now))

    def _start_window(self) -> Process:
        yield self.env.timeout(self.runtime.window_start_s)
        now = self.env.now
        self.in_flight.start(now)
        for service in self.services.values():
            service.start_window()
        self.messaging.start_window()

    def _end_window(self) -> float:
        end = self.env.now
        for service in self.services.values():
            service.end_window()
        self.messaging.end_window()
        self.in_flight.stop(end)
        window_s = end - self.runtime.window_start_s
        self.result.window_s = window_s
        self.result.in_flight_mean = self.in_flight.area() / window_s if window_s else 0
        return end

    def run(self, progress: Progress | None = None) -> ReplicationResult:
        """Simulate the warm-up, the window and the drain; return the figures."""
        env = self.env
        arrivals = self.scenario.workload.arrivals
        if isinstance(arrivals, ClosedUsers):
            self._users(arrivals)
        else:
            env.process(self._arrivals(arrivals))
            for index, burst in enumerate(arrivals.bursts):
                env.process(
                    burst_arrivals(
                        self.runtime,
                        burst,
                        index,
                        arrivals.kind == "poisson",
                        self._start_request,
                    )
                )
        env.process(self._start_window())

        # Run in chunks so a progress bar can follow; the chunks change nothing.
        chunks = _PROGRESS_CHUNKS if progress is not None else 1
        horizon_s = planned_horizon_s(self.scenario, self.runtime.window_start_s)
        for chunk in range(1, chunks + 1):
            if math.isinf(self.runtime.window_end_s):
                if chunk == chunks:
                    env.run(until=self.window_closed)
                else:
                    env.run(until=self.window_closed | env.timeout(horizon_s / chunks))
            else:
                # A window closed by its request count may already be behind.
                target_s = self.runtime.window_end_s * chunk / chunks
                if target_s > env.now:
                    env.run(until=target_s)
            if progress is not None:
                progress(env.now)
        end = self._end_window()

        pending = (
            self.measured_in_flight > 0
            or self.messaging.flows.open_flows > 0
            or self.runtime.async_open > 0
        )
        if pending and self.scenario.run.drain > 0:
            env.run(until=self.drained | env.timeout(self.scenario.run.drain))
        self.result.measured_in_flight_area = self.in_flight.measured_area(env.now)
        self.result.run_end_s = env.now
        return self._collect(end)

    def result_with_declared(self) -> ReplicationResult:
        """Return an empty result listing every meter the topology declares."""
        result = ReplicationResult(self.result.topology, self.result.replication, 1.0)
        meters = self.runtime.meters
        result.meters = {key: (0.0, meters.scaling[key]) for key in meters.quantities}
        return result

    def _collect(self, end: float) -> ReplicationResult:
        result = self.result
        result.in_flight = self.measured_in_flight
        result.services = {name: s.report(end) for name, s in self.services.items()}
        result.hops = {name: h.report() for name, h in self.hops.items()}
        result.async_flows, result.channels = self.messaging.report(end)
        for figures in result.hops.values():
            # Retry amplification per request of the workload, at each hop.
            attempts = figures.get("attempts", 0)
            figures["attempts_per_request"] = (
                attempts / result.arrived if result.arrived else 0.0
            )
        self.runtime.settle_allocations(result.window_s)
        meters = self.runtime.meters
        result.meters = {
            key: (quantity, meters.scaling[key])
            for key, quantity in meters.quantities.items()
        }
        log.debug(
            "%s replication %d: %d arrived, %d succeeded, %d in flight",
            result.topology,
            result.replication,
            result.arrived,
            result.succeeded,
            result.in_flight,
        )
        return result


def planned_horizon_s(scenario: Scenario, warmup_s: float | None = None) -> float:
    """Return when the window should end, for progress bars.

    Exact with ``run.duration``; by requests, an estimate from the arrival
    rate (closed loops: from the think time alone, so an overestimate of
    the rate). The warm-up is the scenario's unless given (``auto``: none).
    """
    run = scenario.run
    if warmup_s is None:
        warmup_s = 0.0 if run.warmup == "auto" else float(run.warmup)
    if run.duration is not None:
        return warmup_s + run.duration

    arrivals = scenario.workload.arrivals
    if isinstance(arrivals, ClosedUsers):
        think_s = distribution_mean(arrivals.think_time)
        rate = arrivals.users / think_s if think_s > 0 else math.inf
    else:
        rate = arrivals.rate
    requests = float(run.requests or 0)
    return warmup_s + (requests / rate if math.isfinite(rate) else 1.0)


def simulate(
    scenario: Scenario,
    topology_name: str,
    replication: int,
    progress: Progress | None = None,
) -> ReplicationResult:
    """Run one replication of one topology of a scenario.

    With ``run.warmup: auto`` the replication runs twice at most: a pilot
    without warm-up collects the latency series, MSER-5 chooses the cut, and
    the same replication (same streams) runs again with the cut as its
    warm-up. A cut at zero keeps the pilot.

    Args:
        scenario: The validated scenario.
        topology_name: Which of its topologies to run.
        replication: The replication index; it selects the random streams.
        progress: Optional callback with the simulated time reached.
    """
    if scenario.run.warmup != "auto":
        return TopologyRun(scenario, topology_name, replication).run(progress)

    series = BatchSeries()
    pilot = TopologyRun(scenario, topology_name, replication, 0.0, series)
    result = pilot.run()
    cut = series.cut()
    if cut.requests > 0:
        rerun = TopologyRun(scenario, topology_name, replication, cut.time_s)
        result = rerun.run(progress)
    elif progress is not None:
        progress(result.window_s)
    result.warmup_cut = cut

    if cut.at_limit:
        log.warning(
            "%s replication %d: MSER-5 found no steady state (cut at %d of %d "
            "batches); the run may be too short",
            topology_name,
            replication,
            cut.requests // cut.batch_size,
            cut.batches,
        )
    return result
