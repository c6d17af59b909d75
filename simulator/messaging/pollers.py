"""The consumers of a queue: container pollers, or a Lambda event source.

Container pollers loop: receive (long polling up to the wait time), work on
each received message in turn on the service, delete the ones that succeeded
with one call, receive again. In a FIFO queue a failed message holds back the
rest of its group in the batch, so they come back together, in order.

A Lambda event source starts five pollers and adds one whenever a receive
finds a backlog, at most one per 0.2 s (300 a minute) and up to its maximum
concurrency; a poller whose long poll comes back empty stops, down to five.
Each batch is one invocation; if it fails, every message of the batch comes
back after its visibility timeout.

A receive that waited for a message hands it over after the pickup latency
(what the published SQS-to-Lambda figures measure, on an idle queue); one that
found a backlog answers after an API round trip.
"""

from collections.abc import Hashable

from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.runtime import Process, RequestFailed
from simulator.engine.services import Service
from simulator.messaging.batch import Batch, batch_of
from simulator.messaging.config import QueueConsumer
from simulator.messaging.flows import deliver
from simulator.messaging.queue import Queue, Receipt

LAMBDA_INITIAL_POLLERS = 5
LAMBDA_MAX_CONCURRENCY = 1000
LAMBDA_SCALE_UP_GAP_S = 60.0 / 300.0
"""A Lambda event source adds up to 300 concurrent batches a minute."""


class QueueConsumerRunner:
    """The pollers of one queue's consumer: container workers or Lambda."""

    def __init__(self, queue: Queue, consumer: QueueConsumer, service: Service) -> None:
        self.queue = queue
        self.consumer = consumer
        self.service = service
        self.env = queue.env
        self.pickup = make_sampler(
            consumer.pickup_latency,
            queue.runtime.streams.get(f"channel/{queue.name}/pickup"),
        )
        self.no_pickup = is_zero(consumer.pickup_latency)
        self.is_lambda = service.kind == "lambda"
        self.max_pollers = consumer.max_concurrency or LAMBDA_MAX_CONCURRENCY
        self.initial_pollers = min(LAMBDA_INITIAL_POLLERS, self.max_pollers)
        self.next_scale_up_s = 0.0

    def start(self, container_pollers: int) -> None:
        """Start the pollers: ``container_pollers``, or Lambda's initial five."""
        count = self.initial_pollers if self.is_lambda else container_pollers
        for _ in range(count):
            self._spawn()

    def _spawn(self) -> None:
        self.queue.set_pollers(1)
        poller = self._lambda_poller() if self.is_lambda else self._container_poller()
        self.env.process(poller)

    def _container_poller(self) -> Process:
        env = self.env
        queue = self.queue
        consumer = self.consumer
        while True:
            asked_s = env.now
            messages = yield from queue.receive(consumer.batch_size, consumer.wait_time)
            if not messages:
                yield env.timeout(self._empty_pause())
                continue
            yield from self._pick_up(env.now > asked_s)

            # One message at a time; in a FIFO queue a failure holds back the
            # rest of its group (they come back with it, in order).
            finished: list[Receipt] = []
            failed_groups: set[Hashable] = set()
            for message in messages:
                if queue.fifo and message.group in failed_groups:
                    continue
                receipt = message.receipt
                try:
                    yield from self.service.handle(
                        deliver(message.request, message.flow)
                    )
                except RequestFailed:
                    queue.consumer_failed(message.request)
                    failed_groups.add(message.group)
                    continue
                queue.consumed(message, env.now)
                finished.append((message, receipt))
            if finished:
                yield from queue.delete(finished)

    def _pick_up(self, waited: bool) -> Process:
        if waited:
            if not self.no_pickup:
                yield self.env.timeout(self.pickup())
        elif not self.queue.no_api_latency:
            yield self.env.timeout(self.queue.api_latency())

    def _empty_pause(self) -> float:
        # A short poll answers after an API round trip; a long poll at its end.
        pause = self.consumer.idle_pause
        if self.consumer.wait_time == 0 and not self.queue.no_api_latency:
            pause += self.queue.api_latency()
        return pause

    def _lambda_poller(self) -> Process:
        env = self.env
        queue = self.queue
        consumer = self.consumer
        while True:
            asked_s = env.now
            messages = yield from queue.receive(
                consumer.batch_size, consumer.wait_time, consumer.batching_window
            )
            if not messages:
                if queue.pollers > self.initial_pollers:
                    queue.set_pollers(-1)
                    return
                if consumer.wait_time == 0:
                    yield env.timeout(self._empty_pause())
                continue
            self._scale_up()
            yield from self._pick_up(env.now > asked_s)

            # One invocation for the batch; a failure returns every message.
            receipts = [(m, m.receipt) for m in messages]
            batch: Batch = batch_of([deliver(m.request, m.flow) for m in messages])
            try:
                yield from self.service.handle(batch)
            except RequestFailed:
                queue.consumer_failed(batch)
                continue
            for message, done_s in zip(messages, batch.done_s, strict=True):
                queue.consumed(message, done_s)
            yield from queue.delete(receipts)

    def _scale_up(self) -> None:
        # A backlog after a receive: one more concurrent batch, rate-limited.
        queue = self.queue
        now = self.env.now
        if (
            queue.visible_count > 0
            and queue.pollers < self.max_pollers
            and now >= self.next_scale_up_s
        ):
            self.next_scale_up_s = now + LAMBDA_SCALE_UP_GAP_S
            self._spawn()
