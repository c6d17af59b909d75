"""What every component of a running topology shares.

The clock, the streams, the measured window, the meters, and the request that
flows through them.
"""

import logging
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Literal

import simpy

from simulator.engine.streams import Streams

log = logging.getLogger("simulator.engine")

Process = Generator[simpy.Event, Any, Any]
"""A SimPy process body: what steps, services and hops run."""

ERROR_CAUSES = (
    "timeout",
    "throttled",
    "rejected",
    "circuit_open",
    "failed",
    "dead_lettered",
)
"""Why a request can fail, as reported in ``errors``."""

Scaling = Literal["request", "time"]
"""How a meter is extrapolated to the month: with volume, or with hours."""


class RequestFailed(Exception):
    """A request failed at some component; the caller sees this cause.

    Attributes:
        cause: One of :data:`ERROR_CAUSES`.
        component: The service or link where it failed.
    """

    def __init__(self, cause: str, component: str) -> None:
        super().__init__(f"{cause} at {component}")
        self.cause = cause
        self.component = component


@dataclass(slots=True)
class Request:
    """One request of the workload, as it travels through a topology.

    Attributes:
        id: Its sequence number in the arrival stream.
        start_s: When it arrived at the entrypoint.
        measured: Whether it arrived inside the measured window.
        deadline_s: The simulated time by which a deadline-carrying call (RPC)
            must answer; infinite when no call has set one. A callee receives
            a copy with its own, possibly shorter, deadline.
        draws: How many per-request draws it made from each stream (keyed by
            the stream's seed; see :mod:`simulator.engine.crn`). Copies share
            this dict (``dataclasses.replace`` keeps it), so a retry draws
            fresh numbers.
    """

    id: int
    start_s: float
    measured: bool
    deadline_s: float = math.inf
    draws: dict[int, int] = field(default_factory=dict)


@dataclass
class Meters:
    """Usage counted during the measured window, per component and meter.

    A meter is keyed by the component that consumes it and the price key of
    the catalog that prices it. ``request`` meters are extrapolated with the
    monthly volume; ``time`` meters with the hours of the month.
    """

    quantities: dict[tuple[str, str], float] = field(default_factory=dict)
    scaling: dict[tuple[str, str], Scaling] = field(default_factory=dict)

    def add(
        self, component: str, meter: str, quantity: float, scaling: Scaling = "request"
    ) -> None:
        """Count ``quantity`` units of ``meter`` used by ``component``."""
        key = (component, meter)
        self.quantities[key] = self.quantities.get(key, 0.0) + quantity
        self.scaling[key] = scaling

    def declare(self, component: str, meter: str, scaling: Scaling = "request") -> None:
        """Make a meter appear in the report even if nothing uses it."""
        self.add(component, meter, 0.0, scaling)


class Runtime:
    """The shared state of one replication of one topology.

    Attributes:
        env: The SimPy environment.
        streams: The named random streams of this replication.
        window_start_s: End of the warm-up: measurement starts here.
        window_end_s: End of the measured window: arrivals stop here.
        meters: Usage counted inside the window.
        allocations: Units held per second through the window, by component
            and meter, until :meth:`settle_allocations` counts them.
        async_open: Asynchronous work of measured requests not yet ended (an
            Event invoke's event); the run's drain waits for it too.
        on_async_idle: Called when ``async_open`` drops back to zero.
    """

    def __init__(
        self, streams: Streams, window_start_s: float, window_end_s: float
    ) -> None:
        self.env = simpy.Environment()
        self.streams = streams
        self.window_start_s = window_start_s
        self.window_end_s = window_end_s
        self.meters = Meters()
        self.allocations: dict[tuple[str, str], float] = {}
        self.async_open = 0
        self.on_async_idle: Callable[[], None] | None = None

    def measuring(self) -> bool:
        """Return True while the clock is inside the measured window."""
        return self.window_start_s <= self.env.now < self.window_end_s

    def meter(
        self, request: Request, component: str, meter: str, quantity: float
    ) -> None:
        """Count usage caused by ``request``, if it is a measured request.

        Per-request meters are attributed to the request that caused them, so
        dividing by the measured arrivals gives exact usage per request.
        """
        if request.measured:
            self.meters.add(component, meter, quantity, "request")

    def meter_time(self, component: str, meter: str, quantity: float) -> None:
        """Count time-based usage if the clock is inside the measured window."""
        if self.window_start_s <= self.env.now < self.window_end_s:
            self.meters.add(component, meter, quantity, "time")

    def meter_allocation(
        self, component: str, meter: str, quantity_per_s: float
    ) -> None:
        """Count an allocation held for the whole measured window.

        For what is billed whether requests come or not (a gateway cache,
        provisioned Lambda instances): ``quantity_per_s`` units for each second
        of the window, a time meter scaled with the hours of the month. The
        quantity is added by :meth:`settle_allocations` once the window's
        length is known.
        """
        key = (component, meter)
        self.allocations[key] = self.allocations.get(key, 0.0) + quantity_per_s
        self.meters.declare(component, meter, "time")

    def open_async(self) -> None:
        """Count asynchronous work a measured request left behind it."""
        self.async_open += 1

    def close_async(self) -> None:
        """Count the end of such work; report idleness when none is left."""
        self.async_open -= 1
        if self.async_open == 0 and self.on_async_idle is not None:
            self.on_async_idle()

    def settle_allocations(self, window_s: float) -> None:
        """Count every allocation over a measured window of ``window_s``."""
        for (component, meter), quantity_per_s in self.allocations.items():
            self.meters.add(component, meter, quantity_per_s * window_s, "time")
        self.allocations.clear()
