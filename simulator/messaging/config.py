"""The ``channels`` section of a topology: queues, topics and logs.

A channel is one of three kinds, chosen by ``kind``:

- ``queue`` (SQS-like): messages wait until a consumer receives them; a
  received message is invisible for the visibility timeout and is delivered
  again unless deleted; after ``max_receive_count`` receives it moves to the
  dead-letter queue. FIFO queues keep order within a message group.
- ``topic`` (SNS or EventBridge-like push fan-out): every subscription whose
  filter matches gets its own delivery, retried on failure.
- ``log`` (Kafka or Kinesis-like): a key picks the partition; every consumer
  group reads every event, one member per partition.

Latency defaults are published figures where one exists, named below; the rest
are stated assumptions a scenario should replace with its own measurements.
"""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simulator.scenario.base import (
    DistributionConfig,
    Lognormal,
    StrictModel,
)
from simulator.scenario.types import (
    Count,
    Duration,
    Fraction,
    PositiveInt,
    Rate,
    Size,
)

SQS_MAX_WAIT_S = 20.0
SQS_MAX_BATCH = 10
SQS_MAX_MESSAGE_BYTES = 256 * 1024
FIFO_SEND_LIMIT_PER_S = 300.0
"""SQS FIFO: 300 API calls a second per action without high throughput mode."""

DAY_S = 86_400.0


def _lognormal(p50_s: float, p99_s: float) -> Lognormal:
    return Lognormal(kind="lognormal", p50=p50_s, p99=p99_s)


# Published end-to-end figures (bitesizedserverless, "Serverless Messaging:
# Latency Compared", eu-west-1, 2022-2023), see PRICES.md.
SQS_TO_LAMBDA = _lognormal(0.016, 0.105)
SQS_FIFO_TO_LAMBDA = _lognormal(0.028, 0.645)
SNS_TO_LAMBDA = _lognormal(0.073, 0.225)
EVENTBRIDGE_TO_LAMBDA = _lognormal(0.148, 0.387)
KINESIS_STANDARD_TO_LAMBDA = _lognormal(0.627, 1.580)
KINESIS_ENHANCED_FAN_OUT_TO_LAMBDA = _lognormal(0.049, 0.109)
# Confluent's benchmark: Kafka end to end p99 5 ms at 200 MB/s (2020); the
# split between produce and fetch, and the medians, are assumptions.
KAFKA_PRODUCE = _lognormal(0.001, 0.003)
KAFKA_FETCH = _lognormal(0.001, 0.002)
# An AWS API call in the region (SendMessage, Publish, PutRecord): no
# published figure; an assumption.
AWS_API_CALL = _lognormal(0.005, 0.020)


class KeyConfig(StrictModel):
    """How a message's key is drawn: a partition key or a message group.

    Keys are numbered 0 to ``keys - 1`` and drawn uniformly; a hot key (key 0)
    takes an extra ``hot_key_fraction`` of the messages.
    """

    keys: PositiveInt = Field(description="Distinct keys, drawn uniformly.")
    hot_key_fraction: Fraction = Field(
        default=0.0,
        description="Share of messages that carry the hot key (key 0) on top "
        "of its uniform share.",
    )


class QueueConsumer(StrictModel):
    """The service that polls a queue: container workers or a Lambda function.

    Container pollers loop: receive (long polling up to ``wait_time``), work
    on each received message in turn on the service, delete the batch, again.
    A Lambda event source starts 5 pollers and adds one whenever a receive
    finds a backlog, up to ``max_concurrency``; each batch is one invocation.
    """

    service: str = Field(description="The consuming service.")
    pollers: PositiveInt | None = Field(
        default=None,
        description="Container pollers; default: the service's workers "
        "(replicas x concurrency). Lambda: not set (the event source scales).",
    )
    wait_time: Duration = Field(
        default=SQS_MAX_WAIT_S,
        le=SQS_MAX_WAIT_S,
        description="Long polling wait of each receive (0: short polling).",
    )
    batch_size: int = Field(
        default=1, ge=1, le=SQS_MAX_BATCH, description="Messages per receive."
    )
    idle_pause: Duration = Field(
        default=0.0,
        description="Container pollers: pause after an empty receive.",
    )
    pickup_latency: DistributionConfig = Field(
        default=SQS_TO_LAMBDA,
        description="From a message being available to its consumer starting; "
        "default the published SQS-to-Lambda figure (p50 16 ms, p99 105 ms).",
    )
    batching_window: Duration = Field(
        default=0.0,
        le=300.0,
        description="Lambda: how long to gather a batch before invoking.",
    )
    max_concurrency: int | None = Field(
        default=None,
        ge=2,
        le=1000,
        description="Lambda: most concurrent batches (default 1000).",
    )


class QueueConfig(StrictModel):
    """An SQS-like queue."""

    kind: Literal["queue"]
    description: str | None = None
    fifo: bool = Field(
        default=False, description="Order within message groups, capped rate."
    )
    api_latency: DistributionConfig = Field(
        default=AWS_API_CALL,
        description="One SendMessage or DeleteMessage call (an assumption by "
        "default: p50 5 ms, p99 20 ms).",
    )
    visibility_timeout: Duration = Field(
        default=30.0, description="How long a received message stays invisible."
    )
    max_receive_count: PositiveInt | None = Field(
        default=None,
        description="Receives after which an undeleted message is dead-lettered.",
    )
    dead_letter_queue: str | None = Field(
        default=None, description="The queue dead-lettered messages move to."
    )
    send_limit: Rate | None = Field(
        default=None,
        description="SendMessage calls a second before throttling; FIFO "
        "default 300/s, standard unlimited.",
    )
    consumer: QueueConsumer | None = None

    @model_validator(mode="after")
    def _redrive(self) -> "QueueConfig":
        if (self.max_receive_count is None) != (self.dead_letter_queue is None):
            raise ValueError(
                "a redrive policy takes both max_receive_count and "
                "dead_letter_queue, or neither"
            )
        return self


class Subscription(StrictModel):
    """One subscriber of a topic: a service (push) or a queue (fan-out)."""

    service: str | None = Field(
        default=None,
        description="A Lambda function (free delivery) or a container "
        "service behind an HTTP/S endpoint (priced delivery).",
    )
    queue: str | None = Field(default=None, description="A queue of this topology.")
    filter: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Message attributes to the values it accepts; every "
        "attribute named must match. Empty: every message.",
    )
    delivery_latency: DistributionConfig | None = Field(
        default=None,
        description="From publish to the subscriber starting; default by "
        "flavour (SNS p50 73 ms p99 225 ms, EventBridge p50 148 ms p99 387 ms).",
    )
    retries: int = Field(
        default=2, ge=0, description="Deliveries tried again after a failure."
    )
    retry_backoff: Duration = Field(
        default=1.0, description="Wait before the first retry; doubles each time."
    )

    @model_validator(mode="after")
    def _one_target(self) -> "Subscription":
        if (self.service is None) == (self.queue is None):
            raise ValueError("a subscription takes exactly one of: service, queue")
        return self

    @property
    def target(self) -> str:
        """The subscriber's name: the service or the queue."""
        return self.service if self.service is not None else str(self.queue)


class TopicConfig(StrictModel):
    """An SNS or EventBridge-like topic: push deliveries to every subscriber."""

    kind: Literal["topic"]
    description: str | None = None
    flavour: Literal["sns", "eventbridge"] = "sns"
    api_latency: DistributionConfig = Field(
        default=AWS_API_CALL,
        description="One Publish (PutEvents) call, an assumption by default.",
    )
    subscriptions: Annotated[list[Subscription], Field(min_length=1)]


class ProducerBatching(StrictModel):
    """How a producer groups records per partition into produce requests."""

    linger: Duration = Field(
        default=0.0, description="Longest wait for a batch to fill."
    )
    batch_size: PositiveInt = Field(default=1, description="Records per request.")


class PartitionLimits(StrictModel):
    """What one partition (shard) can write.

    A produce request is served serially, for ``1 / requests_per_s +
    records / records_per_s + bytes / bytes_per_s`` seconds.
    """

    requests_per_s: Rate | None = None
    records_per_s: Rate | None = None
    bytes_per_s: Rate | None = Field(default=None, description="Bytes a second.")


class History(StrictModel):
    """Events already in the log when the run starts.

    They are spread evenly over the partitions; a replay reads them from the
    earliest offset.
    """

    events: Count = Field(ge=1)
    span: Duration = Field(description="The time the history covers.")


class ConsumerGroup(StrictModel):
    """A consumer group: every group reads every event, one member per partition."""

    service: str = Field(description="The service whose workers are the members.")
    consumers: PositiveInt | None = Field(
        default=None,
        description="Members; default: the service's workers (Lambda: the "
        "partitions). Members beyond the partition count sit idle.",
    )
    start: Literal["latest", "earliest"] = Field(
        default="latest",
        description="earliest: read the retained history first (a replay).",
    )
    batch_size: PositiveInt = Field(
        default=100, description="Most events a member takes per fetch."
    )
    fetch_latency: DistributionConfig | None = Field(
        default=None,
        description="From an event being appended to an idle member getting "
        "it; default by flavour.",
    )
    enhanced_fan_out: bool = Field(
        default=False, description="Kinesis: a dedicated push pipe (faster)."
    )
    retry_delay: Duration = Field(
        default=1.0, description="Wait before a failed batch is tried again."
    )


class LogConfig(StrictModel):
    """A partitioned log: Kafka (MSK) or Kinesis Data Streams (provisioned)."""

    kind: Literal["log"]
    description: str | None = None
    flavour: Literal["kafka", "kinesis"] = "kafka"
    partitions: PositiveInt
    retention: Duration = Field(default=7 * DAY_S, description="How long events stay.")
    produce_latency: DistributionConfig | None = Field(
        default=None,
        description="A produce request's round trip beyond the partition's "
        "own time; default by flavour.",
    )
    partition_limits: PartitionLimits | None = Field(
        default=None,
        description="Default: Kinesis 1000 records and 1 MiB a second per "
        "shard; Kafka unlimited.",
    )
    producer: ProducerBatching = ProducerBatching()
    brokers: PositiveInt = Field(default=3, description="Kafka: brokers billed.")
    storage_per_broker: Size = Field(
        default=100 * 2**30, description="Kafka: provisioned storage per broker."
    )
    history: History | None = None
    consumer_groups: dict[str, ConsumerGroup] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _history_retained(self) -> "LogConfig":
        if self.history is not None and self.history.span > self.retention:
            raise ValueError(
                f"history spans {self.history.span:g} s but the log keeps events "
                f"for {self.retention:g} s (retention): older events are gone"
            )
        return self

    def limits(self) -> PartitionLimits:
        """Return the partition limits, with the flavour's defaults."""
        if self.partition_limits is not None:
            return self.partition_limits
        if self.flavour == "kinesis":
            return PartitionLimits(records_per_s=1000.0, bytes_per_s=float(2**20))
        return PartitionLimits()

    def produce(self) -> DistributionConfig:
        """Return the produce latency, with the flavour's default."""
        if self.produce_latency is not None:
            return self.produce_latency
        return KAFKA_PRODUCE if self.flavour == "kafka" else AWS_API_CALL

    def fetch(self, group: ConsumerGroup) -> DistributionConfig:
        """Return a group's fetch latency, with the flavour's default."""
        if group.fetch_latency is not None:
            return group.fetch_latency
        if self.flavour == "kafka":
            return KAFKA_FETCH
        if group.enhanced_fan_out:
            return KINESIS_ENHANCED_FAN_OUT_TO_LAMBDA
        return KINESIS_STANDARD_TO_LAMBDA


ChannelConfig = Annotated[
    QueueConfig | TopicConfig | LogConfig, Field(discriminator="kind")
]
"""A channel: a queue, a topic or a log, chosen by ``kind``."""
