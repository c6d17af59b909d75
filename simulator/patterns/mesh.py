"""Service mesh: a sidecar proxy on both ends of every hop.

A call over a mesh link passes four proxy traversals: the caller's sidecar and
the callee's on the request leg, the callee's and the caller's on the response
leg. Each traversal takes a drawn latency and proxy CPU time. Sidecars talk
mTLS: a call that opens a new connection (``mtls.new_connection_fraction`` of
calls; sidecars pool connections) pays a handshake, in time and in CPU on both
ends.

What the mesh does for resilience (load balancing across replicas, retries with
backoff and budgets, per-try and overall timeouts, circuit breaking, outlier
detection) is the link's resilience settings, the same machinery every pattern
has (:class:`simulator.scenario.base.LinkBase`).

Its cost is the proxies' compute on the fleet: CPU-seconds of every traversal
and handshake, metered per call as vCPU-hours (``compute.vcpu-hours``), and the
memory every sidecar holds for the whole month, as GB-hours
(``compute.gb-hours``, GB = 2^30 bytes as container memory is sized): one
sidecar per replica of each service at either end of a mesh link, and one
ingress proxy when the entrypoint calls over the mesh. A service at the end of
several mesh links has one sidecar per replica, counted once.
"""

from typing import ClassVar, Literal

from pydantic import Field

from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.hop import Hop, Payload
from simulator.engine.runtime import Process, Request, Runtime
from simulator.engine.services import ContainerService, Service
from simulator.metrics.histogram import LatencyHistogram
from simulator.scenario.base import Constant, DistributionConfig, LinkBase, StrictModel
from simulator.scenario.types import Duration, Fraction, Size

CPU_METER = "compute.vcpu-hours"
MEMORY_METER = "compute.gb-hours"
_BYTES_PER_GB = 2.0**30
_SECONDS_PER_HOUR = 3600.0
INGRESS = "ingress"


class Sidecar(StrictModel):
    """One sidecar proxy, per traversal of one leg through it."""

    latency: DistributionConfig = Field(
        description="Time one traversal adds (a call makes four)."
    )
    cpu: Duration = Field(
        default=0.0, description="Proxy CPU-seconds one traversal takes."
    )
    memory: Size = Field(
        default=0.0, description="Memory each sidecar holds, all month long."
    )


class Mtls(StrictModel):
    """Mutual TLS between sidecars."""

    handshake: DistributionConfig = Field(
        default=Constant(value=0.0),
        description="Time a new connection adds before the request leaves.",
    )
    handshake_cpu: Duration = Field(
        default=0.0, description="CPU-seconds of one handshake, on each end."
    )
    new_connection_fraction: Fraction = Field(
        default=0.0,
        description="Fraction of calls that open a new connection (sidecars "
        "keep pooled connections, so it is small).",
    )


class MeshLink(LinkBase):
    """A link through an Istio- or Linkerd-like service mesh."""

    pattern: Literal["mesh"]
    sidecar: Sidecar
    mtls: Mtls | None = Field(
        default=Mtls(), description="mTLS between sidecars; null for plaintext."
    )


Config = MeshLink
"""The name every pattern module gives its settings model."""


class MeshHop(Hop):
    """Two sidecars and the network each way, with mTLS between them."""

    pattern = "mesh"
    target_kinds: ClassVar[tuple[str, ...] | None] = ("container",)
    caller_kinds: ClassVar[tuple[str, ...] | None] = ("entrypoint", "container")

    def __init__(self, name: str, config: Config, runtime: Runtime) -> None:
        super().__init__(name, config, runtime)
        streams = runtime.streams
        sidecar = config.sidecar
        self.traversal = make_sampler(
            sidecar.latency, streams.get(f"link/{name}/sidecar")
        )
        self.cpu_s = sidecar.cpu
        self.memory_gb = sidecar.memory / _BYTES_PER_GB

        mtls = config.mtls or Mtls()
        self.new_connection_fraction = (
            mtls.new_connection_fraction if config.mtls is not None else 0.0
        )
        self.handshake = make_sampler(mtls.handshake, streams.get(f"link/{name}/mtls"))
        self.no_handshake_time = is_zero(mtls.handshake)
        self.handshake_cpu_s = mtls.handshake_cpu
        self.new_connection = streams.get(f"link/{name}/connections").random

        self.proxy_latency = LatencyHistogram()
        self.proxy_cpu_s = 0.0
        self.handshakes = 0
        self.sidecars: dict[str, int] = {}
        if self.cpu_s or (self.new_connection_fraction and self.handshake_cpu_s):
            runtime.meters.declare(name, CPU_METER)

    def _proxy_cpu(self, request: Request, cpu_s: float) -> None:
        if cpu_s and request.measured:
            self.proxy_cpu_s += cpu_s
            self.runtime.meter(request, self.name, CPU_METER, cpu_s / _SECONDS_PER_HOUR)

    def exchange(self, request: Request, target: Service, payload: Payload) -> Process:
        """Caller's sidecar, network, callee's sidecar; the callee; and back."""
        env = self.env
        network = self.network
        traversal = self.traversal

        # Request leg: out of the caller's sidecar, in through the callee's,
        # after a handshake if the call opens a new connection.
        proxy_s = traversal() + traversal()
        cpu_s = 2.0 * self.cpu_s
        if (
            self.new_connection_fraction
            and self.new_connection() < self.new_connection_fraction
        ):
            if not self.no_handshake_time:
                proxy_s += self.handshake()
            cpu_s += 2.0 * self.handshake_cpu_s
            if request.measured:
                self.handshakes += 1
        self._proxy_cpu(request, cpu_s)
        yield env.timeout(
            proxy_s + network.leg(request, payload.request_bytes, response=False)
        )

        result = yield from target.handle(request)

        # Response leg: the same two sidecars the other way.
        back_s = traversal() + traversal()
        self._proxy_cpu(request, 2.0 * self.cpu_s)
        yield env.timeout(
            back_s + network.leg(request, payload.response_bytes, response=True)
        )
        if request.measured:
            self.proxy_latency.record(proxy_s + back_s)
        return result

    def attach(self, callers: list[Service | None], callees: list[Service]) -> None:
        """Hold the memory of the sidecars at both ends, for the whole window."""
        ends: dict[str, int] = {}
        for service in [*callers, *callees]:
            if service is None:
                ends[INGRESS] = 1
            elif isinstance(service, ContainerService):
                ends[service.name] = service.replicas
        self.sidecars = ends

        # A sidecar serves every mesh link of its replica: count the largest
        # memory once, whichever link names it first.
        allocations = self.runtime.allocations
        for end, count in ends.items():
            component = f"sidecars/{end}"
            per_s = count * self.memory_gb / _SECONDS_PER_HOUR
            held = allocations.get((component, MEMORY_METER), 0.0)
            if per_s > held:
                self.runtime.meter_allocation(component, MEMORY_METER, per_s - held)

    def extra_report(self) -> dict[str, object]:
        """Time and CPU the sidecars added per call, and handshakes."""
        calls = self.proxy_latency.count
        return {
            "proxy_latency_s": self.proxy_latency.summary(),
            "proxy_cpu_s_per_call": self.proxy_cpu_s / calls if calls else 0.0,
            "proxy_cpu_s": self.proxy_cpu_s,
            "mtls_handshakes": self.handshakes,
            "sidecars": dict(self.sidecars),
        }


HOP = MeshHop
