"""The channels of one running topology: built, wired, compiled into steps.

:class:`Messaging` builds every channel of a topology, connects consumers and
subscriptions to their services and queues, compiles ``send`` and ``publish``
steps into closures, starts the pollers, writers and group members, and
collects each flow's and channel's figures at the end.
"""

from collections.abc import Callable, Mapping
from typing import Any

from simulator.engine.crn import uniform_for_requests
from simulator.engine.runtime import Process, Request, Runtime
from simulator.engine.services import Service, Step
from simulator.messaging.batch import history_work, run_batches
from simulator.messaging.config import KeyConfig, LogConfig, QueueConfig, TopicConfig
from simulator.messaging.eventlog import Log
from simulator.messaging.flows import FlowBook, FlowFigures
from simulator.messaging.groups import GroupRunner
from simulator.messaging.pollers import QueueConsumerRunner
from simulator.messaging.pubsub import Topic
from simulator.messaging.queue import Queue
from simulator.scenario.model import (
    ContainerServiceConfig,
    PublishStep,
    Scenario,
    SendStep,
    Topology,
)

Channel = Queue | Topic | Log
KeyDraw = Callable[[Request], int]

_BYTES_PER_GIGABYTE = {"binary": float(2**30), "decimal": 1e9}


def key_draw(key: KeyConfig, stream_seed: int) -> KeyDraw:
    """Return a function drawing a message's key; the key follows the request.

    One uniform number picks the hot key (below ``hot_key_fraction``) or,
    rescaled, one of the ``keys`` keys uniformly.
    """
    uniform = uniform_for_requests(stream_seed)
    hot = key.hot_key_fraction
    keys = key.keys
    last = keys - 1

    def draw(request: Request) -> int:
        u = uniform(request)
        if u < hot:
            return 0
        return min(int((u - hot) / (1.0 - hot) * keys), last)

    return draw


def _merge(report: dict[str, Any], window: dict[str, Any]) -> dict[str, Any]:
    merged = dict(report)
    for key, value in window.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class Messaging:
    """Every channel of one topology in one replication.

    Attributes:
        channels: Each channel by name, in the order the topology declares them.
        flows: The flows rooted at each channel.
    """

    def __init__(
        self,
        scenario: Scenario,
        topology: Topology,
        runtime: Runtime,
        services: Mapping[str, Service],
    ) -> None:
        self.topology = topology
        self.runtime = runtime
        self.env = runtime.env
        self.services = services
        pricing = scenario.pricing.merged(topology.pricing)

        self.channels: dict[str, Channel] = {}
        for name, config in topology.channels.items():
            if isinstance(config, QueueConfig):
                self.channels[name] = Queue(name, config, runtime)
            elif isinstance(config, TopicConfig):
                self.channels[name] = Topic(name, config, runtime)
            else:
                self.channels[name] = Log(
                    name,
                    config,
                    runtime,
                    pricing.hours_per_month,
                    _BYTES_PER_GIGABYTE[pricing.gigabyte],
                )
        self.flows = FlowBook(runtime, list(self.channels))
        self.consumers: list[tuple[QueueConsumerRunner, int]] = []
        self.batch_services: dict[str, bool] = {}
        self._wire()
        self.snapshots: dict[str, dict[str, Any]] | None = None

    def _queue(self, name: str) -> Queue:
        queue = self.channels[name]
        assert isinstance(queue, Queue)
        return queue

    def _workers(self, service: str) -> int:
        config = self.topology.services[service]
        if isinstance(config, ContainerServiceConfig):
            return config.replicas * config.concurrency
        return 0

    def _wire(self) -> None:
        # Dead-letter queues, consumers, subscriptions and groups, by name.
        for name, channel in self.channels.items():
            config = self.topology.channels[name]
            if isinstance(channel, Queue) and isinstance(config, QueueConfig):
                if config.dead_letter_queue is not None:
                    channel.dead_letter = self._queue(config.dead_letter_queue)
                if config.consumer is not None:
                    service = self.services[config.consumer.service]
                    runner = QueueConsumerRunner(channel, config.consumer, service)
                    pollers = config.consumer.pollers or self._workers(service.name)
                    self.consumers.append((runner, pollers))
                    if service.kind == "lambda":
                        self.batch_services.setdefault(service.name, False)
            elif isinstance(channel, Topic) and isinstance(config, TopicConfig):
                for subscription in config.subscriptions:
                    if subscription.queue is not None:
                        channel.subscribe(
                            subscription, None, self._queue(subscription.queue)
                        )
                    else:
                        service = self.services[str(subscription.service)]
                        channel.subscribe(subscription, service, None)
            elif isinstance(channel, Log) and isinstance(config, LogConfig):
                for group_name, group in config.consumer_groups.items():
                    service = self.services[group.service]
                    members = group.consumers or (
                        self._workers(group.service) or config.partitions
                    )
                    channel.groups.append(
                        GroupRunner(channel, group_name, group, service, members)
                    )
                    replays = group.start == "earliest" and config.history is not None
                    self.batch_services[group.service] = (
                        self.batch_services.get(group.service, False) or replays
                    )

    # Steps.

    def compile(self, step: SendStep | PublishStep, name: str, size: float) -> Step:
        """Compile a ``send`` or ``publish`` step; ``size`` is the default size."""
        flows = self.flows
        channel = self.channels[
            step.send if isinstance(step, SendStep) else step.publish
        ]
        size_bytes = step.size if step.size is not None else size
        seed = self.runtime.streams.seed_of(f"{name}/key")
        draw = key_draw(step.key, seed) if step.key is not None else None

        if isinstance(channel, Queue):
            queue = channel

            def send(request: Request) -> Process:
                yield from queue.call_send(request, size_bytes)
                group = draw(request) if draw is not None else None
                queue.accept(
                    request, flows.flow_for(request, queue.name), size_bytes, group
                )

            return send

        if isinstance(channel, Topic):
            topic = channel
            attributes = dict(step.attributes) if isinstance(step, PublishStep) else {}

            def publish(request: Request) -> Process:
                yield from topic.call_publish(request, size_bytes)
                topic.accept(
                    request, flows.flow_for(request, topic.name), size_bytes, attributes
                )

            return publish

        log = channel
        # Without a key, records spread uniformly over the partitions.
        pick = draw or key_draw(KeyConfig(keys=len(log.partitions)), seed)

        def append(request: Request) -> Process:
            flow = flows.flow_for(request, log.name)
            yield from log.publish(request, flow, size_bytes, pick(request))

        return append

    # Running.

    def attach(self) -> None:
        """Start consuming: wrap batch consumers' steps, start the processes.

        Called once the services' steps are compiled.
        """
        streams = self.runtime.streams
        for name, replays in self.batch_services.items():
            summed = None
            if replays:
                summed = history_work(
                    self.topology.services[name].all_steps(),
                    streams.get(f"service/{name}/replay"),
                )
            run_batches(self.services[name], summed)

        for runner, pollers in self.consumers:
            runner.start(pollers)
        for channel in self.channels.values():
            if isinstance(channel, Log):
                channel.start()

    def start_window(self) -> None:
        """Start the measured window: reset time-weighted figures."""
        for channel in self.channels.values():
            channel.start_window()

    def end_window(self) -> None:
        """End the measured window: keep its time-weighted figures."""
        now = self.env.now
        self.snapshots = {
            name: channel.snapshot(now) for name, channel in self.channels.items()
        }

    def report(self, end: float) -> tuple[dict[str, FlowFigures], dict[str, Any]]:
        """Return each flow's figures and each channel's, at the end of a run."""
        if self.snapshots is None:
            self.snapshots = {
                name: channel.snapshot(end) for name, channel in self.channels.items()
            }
        channels = {
            name: _merge(channel.report(), self.snapshots[name])
            for name, channel in self.channels.items()
        }
        return self.flows.figures(), channels
