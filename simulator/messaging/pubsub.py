"""Push fan-out (SNS or EventBridge-like): publish, filter, deliver, retry.

A publish is one API call for the producer. Every subscription whose filter
matches the message's attributes then gets its own delivery after a delivery
latency drawn per subscription: a service runs its steps on it, a queue takes
it as a new message (fan-out into queues). A Lambda function is invoked
asynchronously (Event): a throttled event waits in the function's queue for
capacity, a failed one is retried after one then two minutes, as many times
as the function's ``event_invoke`` allows. A container service behind an
HTTP/S endpoint is retried after a backoff that doubles each time, up to the
subscription's ``retries``. A delivery that still fails is lost and its flow
fails.

Prices: SNS bills each publish per 64 KiB chunk and each HTTP/S delivery
attempt; deliveries to SQS and Lambda are free (a zero-priced meter, shown in
the cost report). EventBridge bills each event published per 64 KiB chunk and
nothing per delivery. A filtered-out message is neither delivered nor billed.
"""

from typing import Any

from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.lambda_events import RETRY_DELAYS_S
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.engine.services import LambdaService, Service
from simulator.messaging.config import (
    EVENTBRIDGE_TO_LAMBDA,
    SNS_TO_LAMBDA,
    Subscription,
    TopicConfig,
)
from simulator.messaging.flows import FlowState, deliver
from simulator.messaging.queue import Queue, chunks
from simulator.metrics.histogram import LatencyHistogram

_PUBLISH_KEYS = {"sns": "sns.publishes", "eventbridge": "eventbridge.events"}
_SNS_DELIVERY_KEYS = {
    "lambda": "sns.lambda-deliveries",
    "container": "sns.http-deliveries",
    "queue": "sns.sqs-deliveries",
}


def matches(rules: dict[str, list[str]], attributes: dict[str, str]) -> bool:
    """Return True if every attribute a filter names has an accepted value."""
    return all(attributes.get(name) in accepted for name, accepted in rules.items())


class SubscriptionRunner:
    """One subscription's deliveries, retries and figures."""

    def __init__(
        self,
        topic: "Topic",
        index: int,
        config: Subscription,
        service: Service | None,
        queue: Queue | None,
    ) -> None:
        self.topic = topic
        self.config = config
        self.service = service
        self.queue = queue
        self.target = config.target
        self.env = topic.env
        runtime = topic.runtime
        latency = config.delivery_latency
        if latency is None:
            latency = SNS_TO_LAMBDA if topic.flavour == "sns" else EVENTBRIDGE_TO_LAMBDA
        self.latency = make_sampler(
            latency, runtime.streams.get(f"channel/{topic.name}/delivery{index}")
        )
        self.no_latency = is_zero(latency)

        # What one delivery attempt is billed on, if anything.
        self.component = f"{topic.name} -> {self.target}"
        self.meter: str | None = None
        if topic.flavour == "sns":
            kind = "queue" if queue is not None else (service.kind if service else "")
            self.meter = _SNS_DELIVERY_KEYS[kind]
            runtime.meters.declare(self.component, self.meter)
        self.counts = dict.fromkeys(("deliveries", "filtered", "retries", "failed"), 0)
        self.delivered_latency = LatencyHistogram()

    def deliver(
        self, request: Request, flow: FlowState | None, size_bytes: float
    ) -> Process:
        """Deliver one message, retrying failures; close its flow branch."""
        env = self.env
        sent_s = env.now
        backoff = self.config.retry_backoff
        attempt = 0
        while True:
            if self.meter is not None:
                self.topic.runtime.meter(request, self.component, self.meter, 1.0)
            if not self.no_latency:
                yield env.timeout(self.latency())

            # Into a queue: the message lives on there, in the same flow.
            if self.queue is not None:
                self.queue.accept(request, flow, size_bytes)
                self._done(request, flow, sent_s, None)
                return

            assert self.service is not None
            if isinstance(self.service, LambdaService):
                cause = yield from self._invoke_event(self.service, request, flow)
                self._done(request, flow, sent_s, cause)
                return
            try:
                yield from self.service.handle(deliver(request, flow))
            except RequestFailed:
                if attempt >= self.config.retries:
                    self._done(request, flow, sent_s, "failed")
                    return
                attempt += 1
                if request.measured:
                    self.counts["retries"] += 1
                yield env.timeout(backoff)
                backoff *= 2
                continue
            self._done(request, flow, sent_s, None)
            return

    def _invoke_event(
        self, function: LambdaService, request: Request, flow: FlowState | None
    ) -> Process:
        # An asynchronous (Event) invoke: a throttled event waits in the
        # function's queue for capacity; a failed one is retried as the
        # function's event_invoke settings say. Returns the failure cause.
        env = self.env
        delivery = deliver(request, flow)
        attempts = 0
        while True:
            slot = function.acquire(delivery)
            if slot is None:
                yield function.capacity_freed()
                continue
            attempts += 1
            try:
                yield from function.run(delivery, slot)
            except RequestFailed:
                if attempts > function.events.retries:
                    return "failed"
                if request.measured:
                    self.counts["retries"] += 1
                yield env.timeout(RETRY_DELAYS_S[min(attempts, 2) - 1])
                continue
            return None

    def _done(
        self,
        request: Request,
        flow: FlowState | None,
        sent_s: float,
        cause: str | None,
    ) -> None:
        now = self.env.now
        if request.measured:
            if cause is None:
                self.counts["deliveries"] += 1
                self.delivered_latency.record(now - sent_s)
            else:
                self.counts["failed"] += 1
        if flow is not None:
            flow.close_branch(now, cause)

    def report(self) -> dict[str, Any]:
        """Return this subscription's counts and publish-to-finish latency."""
        return {
            **self.counts,
            "delivered_latency_s": self.delivered_latency.summary(),
        }


class Topic:
    """One topic of a running topology."""

    kind = "topic"

    def __init__(self, name: str, config: TopicConfig, runtime: Runtime) -> None:
        self.name = name
        self.config = config
        self.runtime = runtime
        self.env = runtime.env
        self.flavour = config.flavour
        self.publish_key = _PUBLISH_KEYS[config.flavour]
        runtime.meters.declare(name, self.publish_key)
        self.api_latency = make_sampler(
            config.api_latency, runtime.streams.get(f"channel/{name}/api")
        )
        self.no_api_latency = is_zero(config.api_latency)
        self.subscriptions: list[SubscriptionRunner] = []
        self.published = 0

    def subscribe(
        self, config: Subscription, service: Service | None, queue: Queue | None
    ) -> None:
        """Add a subscription (called once per subscription, in order)."""
        index = len(self.subscriptions)
        self.subscriptions.append(
            SubscriptionRunner(self, index, config, service, queue)
        )

    def call_publish(self, request: Request, size_bytes: float) -> Process:
        """Make the Publish (PutEvents) call: meter it, wait for its answer."""
        self.runtime.meter(request, self.name, self.publish_key, chunks(size_bytes))
        if not self.no_api_latency:
            yield self.env.timeout(self.api_latency())

    def accept(
        self,
        request: Request,
        flow: FlowState | None,
        size_bytes: float,
        attributes: dict[str, str],
    ) -> None:
        """Fan a published message out to every matching subscription."""
        if request.measured:
            self.published += 1
        for subscription in self.subscriptions:
            if not matches(subscription.config.filter, attributes):
                if request.measured:
                    subscription.counts["filtered"] += 1
                continue
            if flow is not None:
                flow.open_branch()
            self.env.process(subscription.deliver(request, flow, size_bytes))

    def start_window(self) -> None:
        """Nothing time-weighted to reset."""

    def snapshot(self, now: float) -> dict[str, Any]:
        """Nothing time-weighted to report."""
        return {}

    def report(self) -> dict[str, Any]:
        """Return publishes and each subscription's figures."""
        return {
            "kind": self.kind,
            "flavour": self.flavour,
            "published": self.published,
            "subscriptions": {s.target: s.report() for s in self.subscriptions},
        }
