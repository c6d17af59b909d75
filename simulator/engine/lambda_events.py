"""A function's asynchronous (Event) invocations: its internal queue.

An Event invoke is accepted (202) and put on the function's queue; a poller
hands queued events to the function as its concurrency allows, oldest first.
When an invocation fails, Lambda retries it ``retries`` times (two by default):
the second attempt one minute after the first failed and the third two minutes
after the second failed, each back through the queue. An event older than the
maximum event age (six hours by default) when its turn comes is dropped.
Settings and delays as in the AWS Lambda developer guide, "Error handling and
automatic retries" and "Configuring error handling for asynchronous
invocation".

Figures are kept per link that enqueued the event: how old events were when
their first attempt started (event age), how long from enqueue to a
successful finish (async completion), retries, failures and drops. The run's
drain waits for the events of measured requests (up to ``run.drain``: retries
take three minutes and more, so an Event scenario needs a drain that long);
those still queued or between attempts when it ends are in flight.
"""

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

from simulator.engine.runtime import Process, Request, RequestFailed
from simulator.metrics.histogram import LatencyHistogram

if TYPE_CHECKING:
    from simulator.engine.services import LambdaService

RETRY_DELAYS_S = (60.0, 120.0)
"""Wait before the second and the third attempt of a failed event."""

DEFAULT_RETRIES = 2
DEFAULT_MAXIMUM_EVENT_AGE_S = 6 * 3600.0


class AsyncFigures:
    """What happened to the events one link enqueued (measured requests only)."""

    def __init__(self) -> None:
        self.enqueued = 0
        self.succeeded = 0
        self.failed = 0
        self.dropped = 0
        self.retries = 0
        self.event_age = LatencyHistogram()
        self.completion = LatencyHistogram()

    def report(self) -> dict[str, object]:
        """Return the figures for the per-link report."""
        return {
            "events": {
                "enqueued": self.enqueued,
                "succeeded": self.succeeded,
                "failed_after_retries": self.failed,
                "dropped_max_age": self.dropped,
                "retries": self.retries,
                "in_flight": self.enqueued
                - self.succeeded
                - self.failed
                - self.dropped,
            },
            "event_age_s": self.event_age.summary(),
            "async_completion_s": self.completion.summary(),
        }


@dataclass(slots=True)
class QueuedEvent:
    """One asynchronous invocation waiting for, or between, attempts."""

    request: Request
    enqueued_s: float
    figures: AsyncFigures
    attempts: int = 0


class EventQueue:
    """The internal queue and poller of one function's Event invocations."""

    def __init__(
        self, function: "LambdaService", retries: int, maximum_event_age_s: float
    ) -> None:
        self.function = function
        self.env = function.env
        self.retries = retries
        self.maximum_age_s = maximum_event_age_s
        self.pending: deque[QueuedEvent] = deque()
        self.arrival: simpy.Event | None = None
        self.poller: simpy.Process | None = None

    def put(self, request: Request, figures: AsyncFigures) -> None:
        """Accept an event now; it runs when the poller gets to it."""
        # The run's drain waits for the events of measured requests.
        if request.measured:
            figures.enqueued += 1
            self.function.runtime.open_async()
        self._append(QueuedEvent(request, self.env.now, figures))

    def _append(self, event: QueuedEvent) -> None:
        self.pending.append(event)
        if self.poller is None:
            self.poller = self.env.process(self._poll())
        elif self.arrival is not None and not self.arrival.triggered:
            self.arrival.succeed()

    def _poll(self) -> Process:
        env = self.env
        function = self.function
        pending = self.pending
        while True:
            if not pending:
                self.arrival = env.event()
                yield self.arrival
                continue

            # The oldest event goes first, unless it is too old to run at all.
            event = pending[0]
            if env.now - event.enqueued_s >= self.maximum_age_s:
                pending.popleft()
                self._drop(event)
                continue

            slot = function.acquire(event.request)
            if slot is None:
                yield function.capacity_freed()
                continue
            pending.popleft()
            env.process(self._attempt(event, slot))

    def _attempt(self, event: QueuedEvent, slot: str) -> Process:
        env = self.env
        request = event.request
        measured = request.measured
        if event.attempts == 0 and measured:
            event.figures.event_age.record(env.now - event.enqueued_s)
        event.attempts += 1

        try:
            yield from self.function.run(request, slot)
        except RequestFailed:
            if event.attempts > self.retries:
                if measured:
                    event.figures.failed += 1
                    self.function.runtime.close_async()
                return
            if measured:
                event.figures.retries += 1
            yield env.timeout(RETRY_DELAYS_S[min(event.attempts, 2) - 1])
            if env.now - event.enqueued_s >= self.maximum_age_s:
                self._drop(event)
                return
            self._append(event)
            return

        if measured:
            event.figures.succeeded += 1
            event.figures.completion.record(env.now - event.enqueued_s)
            self.function.runtime.close_async()

    def _drop(self, event: QueuedEvent) -> None:
        if event.request.measured:
            event.figures.dropped += 1
            self.function.runtime.close_async()
