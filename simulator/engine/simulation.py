"""One replication of one topology: build it, feed it arrivals, measure it.

Lifecycle: the warm-up runs unmeasured; the measured window starts (time-weighted
figures reset) and requests arriving in it are measured; at its end arrivals
stop and the run goes on for at most ``drain`` so measured requests can finish.
Latency is that of measured requests; throughput counts completions inside the
window, whatever their arrival time.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.engine.hop import Hop
from simulator.engine.runtime import (
    ERROR_CAUSES,
    Process,
    Request,
    RequestFailed,
    Runtime,
)
from simulator.engine.services import ContainerService, LambdaService, Service
from simulator.engine.steps import StepCompiler
from simulator.engine.streams import Streams
from simulator.metrics.histogram import LatencyHistogram
from simulator.patterns import HOPS
from simulator.scenario.model import (
    ContainerServiceConfig,
    LambdaServiceConfig,
    Scenario,
    Topology,
)

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


def build_services(topology: Topology, runtime: Runtime) -> dict[str, Service]:
    """Create the services of a topology (their steps are compiled later)."""
    services: dict[str, Service] = {}
    for name, config in topology.services.items():
        if isinstance(config, ContainerServiceConfig):
            services[name] = ContainerService(
                name,
                runtime,
                replicas=config.replicas,
                concurrency=config.concurrency,
                error_rate=config.error_rate,
                queue_limit=config.queue_limit,
            )
        elif isinstance(config, LambdaServiceConfig):
            services[name] = LambdaService(
                name,
                runtime,
                memory_mb=config.memory_mb,
                architecture=config.architecture,
                cold_start=config.cold_start,
                keep_alive_s=config.keep_alive,
                concurrency_limit=config.concurrency_limit,
                error_rate=config.error_rate,
            )
    return services


class TopologyRun:
    """A topology built inside one runtime, ready to run one replication."""

    def __init__(
        self, scenario: Scenario, topology_name: str, replication: int
    ) -> None:
        run = scenario.run
        self.scenario = scenario
        self.topology = scenario.topologies[topology_name]
        self.runtime = Runtime(
            Streams(scenario.seed, replication), run.warmup, run.warmup + run.duration
        )
        self.env = self.runtime.env
        self.result = ReplicationResult(topology_name, replication, run.duration)

        self.services = build_services(self.topology, self.runtime)
        self.hops: dict[str, Hop] = {
            name: HOPS[config.pattern](name, config, self.runtime)
            for name, config in self.topology.links.items()
        }
        compiler = StepCompiler(
            self.runtime, self.services, self.hops, scenario.workload
        )
        for name, service in self.services.items():
            config = self.topology.services[name]
            service.steps = compiler.compile(config.all_steps(), f"service/{name}")
        self.entry = compiler.compile(self.topology.entrypoint, "entrypoint")

        self.measured_in_flight = 0
        self.drained = self.env.event()

    def _serve(self, request: Request) -> Process:
        env = self.env
        result = self.result
        cause = None
        try:
            for step in self.entry:
                yield from step(request)
        except RequestFailed as failure:
            cause = failure.cause

        now = env.now
        if request.measured:
            self.measured_in_flight -= 1
            if cause is None:
                result.succeeded += 1
                result.latency.record(now - request.start_s)
            else:
                result.errors[cause] += 1
            if self.measured_in_flight == 0 and now >= self.runtime.window_end_s:
                self.drained.succeed()
        if self.runtime.window_start_s <= now < self.runtime.window_end_s:
            result.completed_in_window += 1
            if cause is None:
                result.succeeded_in_window += 1

    def _arrivals(self) -> Process:
        env = self.env
        arrivals = self.scenario.workload.arrivals
        start, end = self.runtime.window_start_s, self.runtime.window_end_s
        rng = self.runtime.streams.get("arrivals")
        rate = arrivals.rate
        constant_gap = 1.0 / rate
        expovariate = rng.expovariate

        def gap() -> float:
            return expovariate(rate) if poisson else constant_gap

        poisson = arrivals.kind == "poisson"
        serve = self._serve
        process = env.process
        index = 0

        while True:
            yield env.timeout(gap())
            now = env.now
            if now >= end:
                return
            index += 1
            measured = now >= start
            if measured:
                self.measured_in_flight += 1
                self.result.arrived += 1
            process(serve(Request(index, now, measured)))

    def _start_window(self) -> Process:
        yield self.env.timeout(self.runtime.window_start_s)
        for service in self.services.values():
            service.start_window()

    def run(self, progress: Progress | None = None) -> ReplicationResult:
        """Simulate the warm-up, the window and the drain; return the figures."""
        env = self.env
        end = self.runtime.window_end_s
        env.process(self._arrivals())
        env.process(self._start_window())

        # Run in chunks so a progress bar can follow; the chunks change nothing.
        chunks = _PROGRESS_CHUNKS if progress is not None else 1
        for chunk in range(1, chunks + 1):
            env.run(until=end * chunk / chunks)
            if progress is not None:
                progress(env.now)

        if self.measured_in_flight > 0 and self.scenario.run.drain > 0:
            env.run(until=self.drained | env.timeout(self.scenario.run.drain))
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


def simulate(
    scenario: Scenario,
    topology_name: str,
    replication: int,
    progress: Progress | None = None,
) -> ReplicationResult:
    """Run one replication of one topology of a scenario.

    Args:
        scenario: The validated scenario.
        topology_name: Which of its topologies to run.
        replication: The replication index; it selects the random streams.
        progress: Optional callback with the simulated time reached.
    """
    return TopologyRun(scenario, topology_name, replication).run(progress)
