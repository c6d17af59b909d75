"""The queue (SQS-like): send, receive with long polling, visibility, redrive.

A sent message is visible until a receive takes it; it is then invisible for
the visibility timeout and comes back (a redelivery) unless the consumer
deletes it first. A message received ``max_receive_count`` times and not
deleted moves to the dead-letter queue when its last visibility timeout ends
(AWS moves it on the next receive attempt; the two differ only when nobody
polls). A receive returns as soon as one message is available, or empty after
its wait time (long polling); it takes at most its batch size. Visible messages
are received oldest first.

FIFO queues deliver each message group in order and hold a group back while
any of its messages is in flight, so order is kept within a group and not
across groups; sends are capped (300 calls a second by default).

Every API call is metered as AWS bills it: one request per 64 KiB chunk of the
call's payload (a batch counts the chunks of its total), at least one. Sends,
receives that return messages and deletes are caused by requests and scale
with the monthly volume; empty receives are caused by time (pollers x hours)
and are metered as time, under their own component, so the report shows what
polling costs.
"""

import heapq
import math
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.runtime import (
    Process,
    Request,
    RequestFailed,
    Runtime,
    Scaling,
)
from simulator.messaging.config import (
    FIFO_SEND_LIMIT_PER_S,
    QueueConfig,
)
from simulator.messaging.flows import Envelope, FlowState
from simulator.metrics.age import AgeOfOldest
from simulator.metrics.histogram import LatencyHistogram
from simulator.metrics.timeweighted import TimeWeighted

CHUNK_BYTES = 64 * 1024
"""SQS bills each 64 KiB (65,536 bytes) of a call's payload as one request."""

_VISIBLE, _IN_FLIGHT, _DELETED, _DEAD = range(4)


def chunks(size_bytes: float) -> int:
    """Return the billed requests of a call carrying ``size_bytes`` of payload."""
    return max(1, math.ceil(size_bytes / CHUNK_BYTES))


class Message(Envelope):
    """One message in a queue, with the request and flow it belongs to."""

    __slots__ = (
        "group",
        "seq",
        "state",
        "receive_count",
        "receipt",
        "done",
    )

    def __init__(
        self,
        request: Request,
        flow: FlowState | None,
        sent_s: float,
        size_bytes: float,
        group: Hashable,
        seq: int,
    ) -> None:
        super().__init__(request, flow, sent_s, size_bytes)
        self.group = group
        self.seq = seq
        self.state = _VISIBLE
        self.receive_count = 0
        self.receipt = 0
        self.done = False

    def __lt__(self, other: "Message") -> bool:
        return self.seq < other.seq


class _Waiter:
    """A receive waiting (long polling) for messages."""

    __slots__ = ("event", "max_messages")

    def __init__(self, event: Any, max_messages: int) -> None:
        self.event = event
        self.max_messages = max_messages


Receipt = tuple[Message, int]
"""A received message and the receipt of that receive (deletes need it)."""


class Queue:
    """One queue of a running topology.

    Attributes:
        name: The channel's name.
        dead_letter: The dead-letter queue, wired after every queue is built.
    """

    kind = "queue"

    def __init__(self, name: str, config: QueueConfig, runtime: Runtime) -> None:
        self.name = name
        self.config = config
        self.runtime = runtime
        self.env = runtime.env
        self.fifo = config.fifo
        self.dead_letter: Queue | None = None
        self.price_key = "sqs.fifo.requests" if self.fifo else "sqs.standard.requests"
        self.components = {
            call: f"{name}: {call}"
            for call in ("send", "receive", "delete", "empty receives")
        }
        meters = runtime.meters
        for call, component in self.components.items():
            scaling: Scaling = "time" if call == "empty receives" else "request"
            meters.declare(component, self.price_key, scaling)

        self.api_latency = make_sampler(
            config.api_latency, runtime.streams.get(f"channel/{name}/api")
        )
        self.no_api_latency = is_zero(config.api_latency)
        limit = config.send_limit
        if limit is None and self.fifo:
            limit = FIFO_SEND_LIMIT_PER_S
        self.send_limit = limit
        self.tokens = limit or 0.0
        self.tokens_at_s = 0.0

        # Visible messages: a heap by age (standard); per-group lines (FIFO).
        self.visible: list[tuple[float, int, Message]] = []
        self.groups: dict[Hashable, deque[Message]] = {}
        self.group_in_flight: dict[Hashable, int] = {}
        self.ready: deque[Hashable] = deque()
        self.ready_set: set[Hashable] = set()
        self.ages: list[tuple[float, int, Message]] = []
        self.visible_count = 0
        self.waiters: deque[_Waiter] = deque()
        self.seq = 0

        self.depth = TimeWeighted()
        self.in_flight = TimeWeighted()
        self.age = AgeOfOldest()
        self.consumed_latency = LatencyHistogram()
        self.counts = dict.fromkeys(
            (
                "sent",
                "received",
                "redeliveries",
                "consumed",
                "dead_lettered",
                "throttled",
                "consumer_failures",
                "receive_calls",
                "empty_receives",
                "delete_calls",
            ),
            0,
        )
        self.pollers = 0
        self.pollers_peak = 0

    # Producing.

    def call_send(self, request: Request, size_bytes: float) -> Process:
        """Make the SendMessage call: throttle, meter, wait for its answer.

        Raises:
            RequestFailed: ``throttled`` when the send limit is exceeded.
        """
        if self.send_limit is not None and not self._take_token():
            if request.measured:
                self.counts["throttled"] += 1
            raise RequestFailed("throttled", self.name)

        self.runtime.meter(
            request, self.components["send"], self.price_key, chunks(size_bytes)
        )
        if not self.no_api_latency:
            yield self.env.timeout(self.api_latency())

    def _take_token(self) -> bool:
        # A token bucket holding one second of the limit.
        assert self.send_limit is not None
        now = self.env.now
        self.tokens = min(
            self.send_limit,
            self.tokens + (now - self.tokens_at_s) * self.send_limit,
        )
        self.tokens_at_s = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def accept(
        self,
        request: Request,
        flow: FlowState | None,
        size_bytes: float,
        group: Hashable = None,
    ) -> None:
        """Put a message on the queue (it is now part of ``flow``)."""
        if flow is not None:
            flow.open_branch()
        if request.measured:
            self.counts["sent"] += 1
        self.seq += 1
        message = Message(request, flow, self.env.now, size_bytes, group, self.seq)
        self._make_visible(message)

    # Visibility.

    def _make_visible(self, message: Message) -> None:
        message.state = _VISIBLE
        now = self.env.now
        self.visible_count += 1
        self.depth.change(now, 1.0)
        entry = (message.sent_s, message.seq, message)
        if self.fifo:
            self._insert_in_group(message)
            heapq.heappush(self.ages, entry)
        else:
            heapq.heappush(self.visible, entry)
        self._update_age(now)
        self._serve_waiters()

    def _insert_in_group(self, message: Message) -> None:
        # A message coming back goes before later messages of its group.
        line = self.groups.setdefault(message.group, deque())
        position = len(line)
        while position > 0 and line[position - 1].seq > message.seq:
            position -= 1
        line.insert(position, message)
        self._mark_ready(message.group)

    def _mark_ready(self, group: Hashable) -> None:
        if (
            group not in self.ready_set
            and self.groups.get(group)
            and not self.group_in_flight.get(group)
        ):
            self.ready.append(group)
            self.ready_set.add(group)

    def _update_age(self, now: float) -> None:
        heap = self.visible if not self.fifo else self.ages
        if self.fifo:
            # Entries of messages that left the visible set are dropped lazily.
            while heap and heap[0][2].state != _VISIBLE:
                heapq.heappop(heap)
        self.age.update(now, heap[0][0] if heap else None)

    def _available(self) -> bool:
        return bool(self.ready) if self.fifo else bool(self.visible)

    def _take(self, max_messages: int) -> list[Message]:
        taken: list[Message] = []
        if self.fifo:
            # As many messages of one group as possible, then the next group.
            while self.ready and len(taken) < max_messages:
                group = self.ready.popleft()
                self.ready_set.discard(group)
                line = self.groups[group]
                while line and len(taken) < max_messages:
                    taken.append(line.popleft())
                if not line:
                    del self.groups[group]
        else:
            while self.visible and len(taken) < max_messages:
                taken.append(heapq.heappop(self.visible)[2])
        if taken:
            self._received(taken)
        return taken

    def _received(self, messages: list[Message]) -> None:
        now = self.env.now
        timeout = self.config.visibility_timeout
        for message in messages:
            message.state = _IN_FLIGHT
            message.receive_count += 1
            message.receipt += 1
            if message.request.measured:
                self.counts["received"] += 1
                if message.receive_count > 1:
                    self.counts["redeliveries"] += 1
            if self.fifo:
                group = message.group
                self.group_in_flight[group] = self.group_in_flight.get(group, 0) + 1
            self.env.timeout(timeout).callbacks.append(
                self._expiry(message, message.receipt)
            )
        self.visible_count -= len(messages)
        self.depth.change(now, -len(messages))
        self.in_flight.change(now, len(messages))
        self._update_age(now)

    def _leave_flight(self, message: Message) -> None:
        self.in_flight.change(self.env.now, -1.0)
        if self.fifo:
            group = message.group
            left = self.group_in_flight[group] - 1
            if left:
                self.group_in_flight[group] = left
            else:
                del self.group_in_flight[group]
                self._mark_ready(group)

    def _expiry(self, message: Message, receipt: int) -> Callable[[Any], None]:
        return lambda _: self._expire(message, receipt)

    def _expire(self, message: Message, receipt: int) -> None:
        # The visibility timeout of one receive ended: back, or dead-lettered.
        if message.state != _IN_FLIGHT or message.receipt != receipt:
            return
        limit = self.config.max_receive_count
        if limit is not None and message.receive_count >= limit:
            self._leave_flight(message)
            self._dead_letter(message)
            self._serve_waiters()
            return
        self._leave_flight(message)
        self._make_visible(message)

    def _dead_letter(self, message: Message) -> None:
        message.state = _DEAD
        if message.request.measured:
            self.counts["dead_lettered"] += 1
        if message.flow is not None and not message.done:
            message.done = True
            message.flow.close_branch(self.env.now, "dead_lettered")
        if self.dead_letter is not None:
            # The flow ends here; the dead-letter copy is not followed.
            self.dead_letter.accept(message.request, None, message.size_bytes)

    # Consuming.

    def receive(
        self, max_messages: int, wait_s: float, gather_s: float = 0.0
    ) -> Process:
        """Receive up to ``max_messages``, waiting up to ``wait_s`` for one.

        With ``gather_s`` (a Lambda batching window) a receive that got some
        messages keeps gathering until the batch is full or the window ends.
        Returns the received messages (maybe none); they are in flight.
        """
        env = self.env
        if self.runtime.measuring():
            self.counts["receive_calls"] += 1
        taken = self._take(max_messages)
        if not taken and wait_s > 0:
            taken = yield from self._wait(max_messages, wait_s)

        if taken and gather_s > 0:
            deadline = env.now + gather_s
            while len(taken) < max_messages and env.now < deadline:
                more = self._take(max_messages - len(taken))
                if not more:
                    more = yield from self._wait(
                        max_messages - len(taken), deadline - env.now
                    )
                    if not more:
                        break
                taken.extend(more)

        self._meter_receive(taken)
        return taken

    def _wait(self, max_messages: int, wait_s: float) -> Process:
        env = self.env
        waiter = _Waiter(env.event(), max_messages)
        self.waiters.append(waiter)
        yield waiter.event | env.timeout(wait_s)
        if waiter.event.triggered:
            return list(waiter.event.value)
        self.waiters.remove(waiter)
        return []

    def _serve_waiters(self) -> None:
        while self.waiters and self._available():
            waiter = self.waiters.popleft()
            waiter.event.succeed(self._take(waiter.max_messages))

    def _meter_receive(self, messages: list[Message]) -> None:
        if not messages:
            if self.runtime.measuring():
                self.counts["empty_receives"] += 1
            self.runtime.meter_time(
                self.components["empty receives"], self.price_key, 1.0
            )
            return

        # One call: its chunks shared out over the messages it returned.
        share = chunks(sum(m.size_bytes for m in messages)) / len(messages)
        component = self.components["receive"]
        for message in messages:
            self.runtime.meter(message.request, component, self.price_key, share)

    def consumed(self, message: Message, done_s: float) -> None:
        """Record that a consumer finished ``message`` at ``done_s``.

        A message worked on twice (a redelivery) counts once, the first time.
        """
        if message.done:
            return
        message.done = True
        if message.request.measured:
            self.counts["consumed"] += 1
            self.consumed_latency.record(done_s - message.sent_s)
        if message.flow is not None:
            message.flow.close_branch(done_s)

    def delete(self, receipts: list[Receipt]) -> Process:
        """Make one DeleteMessage(Batch) call for ``receipts``.

        A receipt that is stale (the message came back and was received
        again) deletes nothing, as in SQS.
        """
        if self.runtime.measuring():
            self.counts["delete_calls"] += 1
        share = 1.0 / len(receipts)
        component = self.components["delete"]
        for message, _ in receipts:
            self.runtime.meter(message.request, component, self.price_key, share)
        if not self.no_api_latency:
            yield self.env.timeout(self.api_latency())

        for message, receipt in receipts:
            if message.state == _IN_FLIGHT and message.receipt == receipt:
                message.state = _DELETED
                self._leave_flight(message)
        self._serve_waiters()

    def consumer_failed(self, request: Request) -> None:
        """Count a message (or batch) whose consumer failed."""
        if request.measured:
            self.counts["consumer_failures"] += 1

    # Measuring.

    def start_window(self) -> None:
        """Start the measured window: reset time-weighted figures."""
        now = self.env.now
        self.depth.start(now)
        self.in_flight.start(now)
        self.age.start(now)
        self.pollers_peak = self.pollers

    def snapshot(self, now: float) -> dict[str, Any]:
        """Return the time-weighted figures over the window ending ``now``."""
        return {
            "depth_mean": self.depth.average(now),
            "depth_peak": self.depth.peak,
            "in_flight_mean": self.in_flight.average(now),
            "oldest_age_mean_s": self.age.average(now),
            "oldest_age_peak_s": self.age.peak(now),
            "pollers_peak": self.pollers_peak,
        }

    def report(self) -> dict[str, Any]:
        """Return the counts and the consumers' latency (send to finish)."""
        return {
            "kind": self.kind,
            "fifo": self.fifo,
            **self.counts,
            "consumed_latency_s": self.consumed_latency.summary(),
        }

    def set_pollers(self, delta: int) -> None:
        """Count pollers starting (+) or stopping (-)."""
        self.pollers += delta
        if self.runtime.measuring() and self.pollers > self.pollers_peak:
            self.pollers_peak = self.pollers
