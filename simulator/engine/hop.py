"""The hop: one link between a caller and a callee, made by a pattern.

A pattern module (``simulator/patterns/*.py``) subclasses :class:`Hop` and
implements :meth:`Hop.exchange`, the request and response legs with whatever
the pattern puts between them (a gateway, an invoke API, a broker). The base
class measures every call (count, errors, latency as seen by the caller), so a
pattern only says how a call is made, not how it is measured.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.runtime import (
    ERROR_CAUSES,
    Process,
    Request,
    RequestFailed,
    Runtime,
)
from simulator.metrics.histogram import LatencyHistogram
from simulator.scenario.base import LinkBase, NetworkSettings

if TYPE_CHECKING:
    from simulator.engine.services import Service

# Which data-transfer meter each zone runs on, for (request leg, response leg),
# and how many times a byte is billed (cross-AZ bytes are billed out and in).
_TRANSFER_METERS: dict[str, tuple[str | None, str | None, float]] = {
    "same-az": (None, None, 0.0),
    "cross-az": ("transfer.cross-az", "transfer.cross-az", 2.0),
    "cross-region": ("transfer.inter-region", "transfer.inter-region", 1.0),
    "internet": (None, "transfer.internet-out", 1.0),
}


@dataclass(frozen=True, slots=True)
class Payload:
    """The sizes of one call's request and response, in bytes."""

    request_bytes: float
    response_bytes: float


class Network:
    """The network under a hop: one-way latency plus payload time per leg."""

    def __init__(self, settings: NetworkSettings, runtime: Runtime, owner: str) -> None:
        self.runtime = runtime
        self.owner = owner
        self.sample = make_sampler(
            settings.latency, runtime.streams.get(f"link/{owner}/network")
        )
        self.bandwidth = settings.bandwidth
        self.free = is_zero(settings.latency) and settings.bandwidth is None
        request_meter, response_meter, factor = _TRANSFER_METERS[settings.zone]
        self.request_meter = request_meter
        self.response_meter = response_meter
        self.factor = factor
        for meter in {request_meter, response_meter} - {None}:
            runtime.meters.declare(owner, str(meter))

    def leg(self, request: Request, size_bytes: float, response: bool) -> float:
        """Meter one leg's bytes and return how long the leg takes, in seconds."""
        meter = self.response_meter if response else self.request_meter
        if meter is not None:
            self.runtime.meter(request, self.owner, meter, size_bytes * self.factor)

        if self.free:
            return 0.0
        delay = self.sample()
        if self.bandwidth is not None:
            delay += size_bytes / self.bandwidth
        return delay


class Hop:
    """A link of a topology, as made by one pattern.

    Attributes:
        pattern: The pattern's name in scenario files.
        name: The link's name in the topology.
    """

    pattern: ClassVar[str] = ""
    target_kinds: ClassVar[tuple[str, ...] | None] = None
    """Service kinds this pattern can call; None for any."""

    def __init__(self, name: str, config: LinkBase, runtime: Runtime) -> None:
        self.name = name
        self.config = config
        self.runtime = runtime
        self.env = runtime.env
        self.network = Network(config.network, runtime, name)
        self.calls = 0
        self.errors = dict.fromkeys(ERROR_CAUSES, 0)
        self.latency = LatencyHistogram()

    def call(self, request: Request, target: "Service", payload: Payload) -> Process:
        """Make one call over this hop and wait for its response.

        Raises:
            RequestFailed: The call failed; the cause says why.
        """
        start = self.env.now
        try:
            result = yield from self.exchange(request, target, payload)
        except RequestFailed as failure:
            if request.measured:
                self.calls += 1
                self.errors[failure.cause] += 1
            raise

        if request.measured:
            self.calls += 1
            self.latency.record(self.env.now - start)
        return result

    def exchange(
        self, request: Request, target: "Service", payload: Payload
    ) -> Process:
        """Carry the request to ``target``, run it there, and carry the response."""
        raise NotImplementedError

    def report(self) -> dict[str, object]:
        """Return what this hop measured, for the per-hop part of the report."""
        return {
            "link": self.name,
            "pattern": self.pattern,
            "calls": self.calls,
            "errors": {cause: n for cause, n in self.errors.items() if n},
            "latency_s": self.latency.summary(),
        }

    def extra_report(self) -> dict[str, object]:
        """Pattern-specific figures; empty unless a pattern adds some."""
        return {}
