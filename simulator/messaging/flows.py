"""Asynchronous flows: from the request that caused them to the last consumer.

A *flow* starts when a request that is not itself a delivery (the entrypoint,
or a service it calls synchronously) sends or publishes to a channel: the flow
is named after that channel, its *root*. Every message of the flow carries it
on: a consumer's own sends and publishes join the same flow, so a chain (queue,
worker, topic, three subscribers) is one flow. The flow counts its open
branches (messages not yet consumed, deliveries not yet made); when the last
branch closes, the flow's latency is the time from the request's arrival to the
last consumer finishing. A branch that ends in a dead-letter queue or in a
failed delivery makes the flow fail with that cause.

Only measured requests are followed. A flow still open when the run ends is
counted as in flight.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.engine.runtime import ERROR_CAUSES, Request, Runtime
from simulator.metrics.histogram import LatencyHistogram


@dataclass(slots=True)
class Delivery(Request):
    """A request as a consumer sees it: the original request, plus its flow.

    It keeps the original's id, arrival time and ``draws`` (so a consumer's
    work is the same number in every topology that has it) but not its
    deadline: a consumer does not answer the caller.
    """

    flow: "FlowState | None" = None


def deliver(request: Request, flow: "FlowState | None") -> Delivery:
    """Return the delivery of a message caused by ``request``."""
    return Delivery(
        id=request.id,
        start_s=request.start_s,
        measured=request.measured,
        draws=request.draws,
        flow=flow,
    )


@dataclass
class FlowFigures:
    """What one replication measured of one flow.

    Attributes:
        started: Measured requests that started the flow.
        succeeded: Of those, flows whose every branch was consumed.
        errors: Of those, failed flows by cause (a dead-lettered message, a
            delivery that failed after its retries).
        in_flight: Of those, flows still open when the run ended.
        completed_in_window: Flows (measured) that finished inside the window.
        latency: Request arrival to the last consumer finishing, successful
            flows only.
    """

    started: int = 0
    succeeded: int = 0
    errors: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(ERROR_CAUSES, 0)
    )
    in_flight: int = 0
    completed_in_window: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)


class FlowState:
    """One open flow: the request and its open branches."""

    __slots__ = ("tracker", "request", "outstanding", "last_done_s", "cause")

    def __init__(self, tracker: "FlowTracker", request: Request) -> None:
        self.tracker = tracker
        self.request = request
        self.outstanding = 0
        self.last_done_s = request.start_s
        self.cause: str | None = None

    def open_branch(self) -> None:
        """A message or delivery of this flow now exists."""
        self.outstanding += 1

    def close_branch(self, done_s: float, cause: str | None = None) -> None:
        """A branch ended at ``done_s``; ``cause`` says why if it failed."""
        self.outstanding -= 1
        if done_s > self.last_done_s:
            self.last_done_s = done_s
        if cause is not None and self.cause is None:
            self.cause = cause
        if self.outstanding == 0:
            self.tracker.finish(self)


class FlowTracker:
    """The flows rooted at one channel, and their figures."""

    def __init__(self, name: str, book: "FlowBook") -> None:
        self.name = name
        self.book = book
        self.open: dict[int, FlowState] = {}
        self.figures = FlowFigures()

    def start(self, request: Request) -> FlowState:
        """Return the open flow of ``request``, starting it if needed."""
        state = self.open.get(request.id)
        if state is None:
            state = FlowState(self, request)
            self.open[request.id] = state
            self.figures.started += 1
            self.book.opened()
        return state

    def finish(self, state: FlowState) -> None:
        """Record a flow whose last branch closed."""
        del self.open[state.request.id]
        figures = self.figures
        if state.cause is None:
            figures.succeeded += 1
            figures.latency.record(state.last_done_s - state.request.start_s)
        else:
            figures.errors[state.cause] += 1
        if self.book.runtime.measuring():
            figures.completed_in_window += 1
        self.book.closed()


class FlowBook:
    """Every flow tracker of a running topology, and how many flows are open.

    ``on_idle`` is called whenever the last open flow closes, so the run can
    stop draining once the synchronous side is done too.
    """

    def __init__(self, runtime: Runtime, roots: list[str]) -> None:
        self.runtime = runtime
        self.trackers = {name: FlowTracker(name, self) for name in roots}
        self.open_flows = 0
        self.on_idle: Callable[[], None] | None = None

    def flow_for(self, request: Request, root: str) -> FlowState | None:
        """Return the flow a message sent by ``request`` to ``root`` belongs to.

        A delivery passes its own flow on; any other measured request starts
        (or continues) the flow rooted at this channel.
        """
        if isinstance(request, Delivery):
            return request.flow
        if not request.measured:
            return None
        return self.trackers[root].start(request)

    def opened(self) -> None:
        """Count a newly opened flow."""
        self.open_flows += 1

    def closed(self) -> None:
        """Count a finished flow; report idleness when none is left open."""
        self.open_flows -= 1
        if self.open_flows == 0 and self.on_idle is not None:
            self.on_idle()

    def figures(self) -> dict[str, FlowFigures]:
        """Return every flow's figures, with the flows still open in flight."""
        for tracker in self.trackers.values():
            tracker.figures.in_flight = len(tracker.open)
        return {name: t.figures for name, t in self.trackers.items()}


class Envelope:
    """What every message, event or record carries through a channel.

    Attributes:
        request: The request that caused it.
        flow: The asynchronous flow it belongs to, if that flow is measured.
        sent_s: When it was sent or published.
        size_bytes: Its payload size.
    """

    __slots__ = ("request", "flow", "sent_s", "size_bytes")

    def __init__(
        self,
        request: Request,
        flow: "FlowState | None",
        sent_s: float,
        size_bytes: float,
    ) -> None:
        self.request = request
        self.flow = flow
        self.sent_s = sent_s
        self.size_bytes = size_bytes
