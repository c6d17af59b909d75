"""Cross-reference checks of a topology's channels and asynchronous steps.

A ``send`` names a queue and a ``publish`` a topic or a log of the same
topology; consumers, subscribers and consumer groups name its services (or, for
a subscription, a queue); dead-letter queues exist and match their queue's
kind; messages may not go round a loop of channels and consumers for ever.
"""

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from simulator.engine.distributions import is_zero
from simulator.messaging.config import (
    SQS_MAX_MESSAGE_BYTES,
    LogConfig,
    QueueConfig,
    TopicConfig,
)
from simulator.scenario.model import CallStep, PublishStep, SendStep, Topology
from simulator.scenario.yamlfile import PathKey

Problem = tuple[PathKey, str]

# Largest record a log takes: Kinesis 1 MiB (also Kafka's default).
_LOG_MAX_RECORD_BYTES = 2**20


def walk_steps(steps: list[Any], path: PathKey) -> Iterator[tuple[Any, PathKey]]:
    """Yield every step, nested ones included, with its path."""
    for index, step in enumerate(steps):
        yield step, path + (index,)
        yield from _nested(step, path + (index,))


def _nested(model: BaseModel, path: PathKey) -> Iterator[tuple[Any, PathKey]]:
    # Steps nest inside lists of models (parallel, choice branches, repeat).
    for field, value in model:
        if isinstance(value, BaseModel):
            yield from _nested(value, path + (field,))
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            if hasattr(type(value[0]), "model_fields") and _is_step(value[0]):
                yield from walk_steps(value, path + (field,))
            else:
                for index, item in enumerate(value):
                    yield from _nested(item, path + (field, index))


def _is_step(model: BaseModel) -> bool:
    keys = ("compute", "call", "parallel", "choice", "repeat", "send", "publish")
    return any(key in type(model).model_fields for key in keys)


def _owners(
    base: PathKey, topology: Topology
) -> Iterator[tuple[str, list[Any], PathKey]]:
    yield "entrypoint", topology.entrypoint, base + ("entrypoint",)
    for name, service in topology.services.items():
        if service.steps is not None:
            yield name, service.steps, base + ("services", name, "steps")


def check_channels(name: str, topology: Topology) -> list[Problem]:
    """Return every broken reference of a topology's channels and their steps."""
    base: PathKey = ("topologies", name)
    problems: list[Problem] = []
    for channel in topology.channels:
        if channel in topology.services or channel in topology.links:
            problems.append(
                (
                    base + ("channels", channel),
                    f"{channel!r} names a channel and a service or link; the cost "
                    "report lists them by name, so give them different names",
                )
            )

    graph: dict[str, list[str]] = {}
    for owner, steps, path in _owners(base, topology):
        for step, step_path in walk_steps(steps, path):
            if isinstance(step, SendStep | PublishStep):
                problem = _check_step(topology, step, step_path)
                if problem is not None:
                    problems.append(problem)
                else:
                    target = step.send if isinstance(step, SendStep) else step.publish
                    graph.setdefault(owner, []).append(f"channel {target}")
            elif isinstance(step, CallStep) and step.call in topology.services:
                graph.setdefault(owner, []).append(step.call)

    for channel, config in topology.channels.items():
        path = base + ("channels", channel)
        node = f"channel {channel}"
        if isinstance(config, QueueConfig):
            problems += _check_queue(topology, channel, config, path)
            if config.consumer is not None:
                graph.setdefault(node, []).append(config.consumer.service)
        elif isinstance(config, TopicConfig):
            problems += _check_topic(topology, config, path)
            for subscription in config.subscriptions:
                target = subscription.service or f"channel {subscription.queue}"
                graph.setdefault(node, []).append(target)
        else:
            problems += _check_log(topology, config, path)
            for group in config.consumer_groups.values():
                graph.setdefault(node, []).append(group.service)

    loop = _find_loop(graph)
    if loop is not None:
        # Point at the first channel on the loop.
        first = next(part for part in loop.split(" -> ") if part in topology.channels)
        problems.append(
            (
                base + ("channels", first),
                f"messages would go round for ever: {loop}",
            )
        )
    return problems


def _check_step(
    topology: Topology, step: SendStep | PublishStep, path: PathKey
) -> Problem | None:
    channels = topology.channels
    if isinstance(step, SendStep):
        config = channels.get(step.send)
        if not isinstance(config, QueueConfig):
            queues = [n for n, c in channels.items() if isinstance(c, QueueConfig)]
            return (
                path + ("send",),
                f"{step.send!r} is not a queue of this topology (queues: "
                f"{', '.join(queues) or 'none'})",
            )
        if config.fifo and step.key is None:
            return (
                path + ("send",),
                f"{step.send!r} is a FIFO queue: a send needs key (the message group)",
            )
        if not config.fifo and step.key is not None:
            return (
                path + ("key",),
                f"key is the message group of a FIFO queue; {step.send!r} is a "
                "standard queue",
            )
        return _check_size(step.size, SQS_MAX_MESSAGE_BYTES, "an SQS message", path)

    target = channels.get(step.publish)
    if not isinstance(target, TopicConfig | LogConfig):
        published = [
            n for n, c in channels.items() if isinstance(c, TopicConfig | LogConfig)
        ]
        return (
            path + ("publish",),
            f"{step.publish!r} is not a topic or log of this topology (topics and "
            f"logs: {', '.join(published) or 'none'})",
        )
    if isinstance(target, TopicConfig):
        if step.key is not None:
            return (
                path + ("key",),
                f"key picks a log's partition; {step.publish!r} "
                "is a topic (use attributes for filters)",
            )
        return _check_size(step.size, SQS_MAX_MESSAGE_BYTES, "a topic message", path)
    if step.attributes:
        return (
            path + ("attributes",),
            f"attributes are matched by topic filters; {step.publish!r} is a log",
        )
    return _check_size(step.size, _LOG_MAX_RECORD_BYTES, "a log record", path)


def _check_size(
    size: float | None, limit: int, what: str, path: PathKey
) -> Problem | None:
    if size is not None and size > limit:
        return (
            path + ("size",),
            f"{size:g} bytes is larger than {what} can be ({limit:,} bytes)",
        )
    return None


def _check_queue(
    topology: Topology, name: str, config: QueueConfig, path: PathKey
) -> list[Problem]:
    problems: list[Problem] = []
    dead_letter = config.dead_letter_queue
    if dead_letter is not None:
        target = topology.channels.get(dead_letter)
        if dead_letter == name or not isinstance(target, QueueConfig):
            problems.append(
                (
                    path + ("dead_letter_queue",),
                    f"{dead_letter!r} is not another queue of this topology",
                )
            )
        elif target.fifo != config.fifo:
            problems.append(
                (
                    path + ("dead_letter_queue",),
                    f"the dead-letter queue of a {_kind(config)} queue must be "
                    f"{_kind(config)} too; {dead_letter!r} is {_kind(target)}",
                )
            )

    consumer = config.consumer
    if consumer is None:
        return problems
    service = topology.services.get(consumer.service)
    if service is None:
        problems.append(
            (
                path + ("consumer", "service"),
                f"{consumer.service!r} is not a service of this topology",
            )
        )
        return problems
    if (
        consumer.wait_time == 0
        and consumer.idle_pause == 0
        and is_zero(config.api_latency)
    ):
        problems.append(
            (
                path + ("consumer", "wait_time"),
                "a short-polling consumer (wait_time 0) with no idle_pause and no "
                "api_latency would poll infinitely often; set one of them",
            )
        )
    if service.kind == "lambda":
        for key in ("pollers", "idle_pause"):
            if key in consumer.model_fields_set:
                problems.append(
                    (
                        path + ("consumer", key),
                        f"{key} is for container pollers; a Lambda event source "
                        "scales its own pollers",
                    )
                )
    else:
        for key in ("batching_window", "max_concurrency"):
            if key in consumer.model_fields_set:
                problems.append(
                    (
                        path + ("consumer", key),
                        f"{key} is a Lambda event source setting; "
                        f"{consumer.service!r} is a container service",
                    )
                )
    return problems


def _kind(config: QueueConfig) -> str:
    return "FIFO" if config.fifo else "standard"


def _check_topic(
    topology: Topology, config: TopicConfig, path: PathKey
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, subscription in enumerate(config.subscriptions):
        where = path + ("subscriptions", index)
        target = subscription.target
        if target in seen:
            problems.append((where, f"{target!r} is subscribed twice"))
        seen.add(target)

        if subscription.queue is not None:
            queue = topology.channels.get(subscription.queue)
            if not isinstance(queue, QueueConfig):
                problems.append(
                    (where + ("queue",), f"{target!r} is not a queue of this topology")
                )
            elif queue.fifo:
                problems.append(
                    (
                        where + ("queue",),
                        f"{target!r} is a FIFO queue; a standard topic delivers "
                        "only to standard queues",
                    )
                )
            continue

        service = topology.services.get(target)
        if service is None:
            problems.append(
                (where + ("service",), f"{target!r} is not a service of this topology")
            )
        elif service.kind == "lambda":
            for key in ("retries", "retry_backoff"):
                if key in subscription.model_fields_set:
                    problems.append(
                        (
                            where + (key,),
                            f"{target!r} is a Lambda function, invoked "
                            "asynchronously: it retries as its event_invoke "
                            f"settings say, not by the subscription's {key}",
                        )
                    )
        elif config.flavour == "eventbridge":
            problems.append(
                (
                    where + ("service",),
                    f"{target!r} is a {service.kind} service; EventBridge reaches "
                    "it only through API destinations, which are not priced here "
                    "(subscribe a queue it polls instead)",
                )
            )
    return problems


def _check_log(topology: Topology, config: LogConfig, path: PathKey) -> list[Problem]:
    problems: list[Problem] = []
    for group_name, group in config.consumer_groups.items():
        if group.service not in topology.services:
            problems.append(
                (
                    path + ("consumer_groups", group_name, "service"),
                    f"{group.service!r} is not a service of this topology",
                )
            )
        if group.enhanced_fan_out and config.flavour != "kinesis":
            problems.append(
                (
                    path + ("consumer_groups", group_name, "enhanced_fan_out"),
                    "enhanced fan-out is a Kinesis feature; this log is Kafka",
                )
            )
    return problems


def _find_loop(graph: dict[str, list[str]]) -> str | None:
    # Depth first; a node met again on the current path closes a loop.
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> str | None:
        if state.get(node) == 1:
            loop = path[path.index(node) :] + [node]
            if not any(part.startswith("channel ") for part in loop):
                return None  # a loop of calls only: the call check reports it
            return " -> ".join(part.removeprefix("channel ") for part in loop)
        if state.get(node) == 2:
            return None
        state[node] = 1
        for nxt in graph.get(node, []):
            found = visit(nxt, path + [node])
            if found:
                return found
        state[node] = 2
        return None

    for node in list(graph):
        found = visit(node, [])
        if found:
            return found
    return None
