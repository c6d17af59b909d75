"""The scenario file: a workload, topologies to compare, pricing, run settings.

Every section rejects unknown keys, every value carries its unit, and the cross
references (a call names a declared service and link, a pattern fits the
service it calls, no service calls itself round a cycle) are checked before
anything runs.
"""

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from simulator.messaging.config import ChannelConfig, KeyConfig
from simulator.patterns import LinkConfig
from simulator.pricing.catalog import PriceOverride
from simulator.scenario.base import (
    DistributionConfig,
    LoadBalancing,
    LoadBalancingSettings,
    StrictModel,
)
from simulator.scenario.faults import Fault
from simulator.scenario.types import (
    Count,
    Duration,
    Fraction,
    Money,
    PositiveInt,
    Rate,
    Size,
)

SCHEMA_VERSION = 1


class ComputeStep(StrictModel):
    """Work done on the service's worker for a drawn duration."""

    compute: DistributionConfig


class CallStep(StrictModel):
    """A synchronous call to another service over a link; the worker waits."""

    call: str = Field(description="The service called.")
    via: str | None = Field(
        default=None,
        description="The link the call goes over; omitted: an ideal network "
        "with no latency.",
    )
    request_size: Size | None = Field(default=None, description="Default: workload's.")
    response_size: Size | None = Field(default=None, description="Default: workload's.")


class ParallelStep(StrictModel):
    """Branches that run at once; the step ends when the last branch ends."""

    parallel: Annotated[list["Step"], Field(min_length=2)]


class SendStep(StrictModel):
    """Put a message on a queue (SendMessage); the step waits for the call only."""

    send: str = Field(description="The queue sent to.")
    size: Size | None = Field(default=None, description="Default: workload's request.")
    key: KeyConfig | None = Field(
        default=None, description="FIFO queues: how the message group is drawn."
    )


class PublishStep(StrictModel):
    """Publish to a topic or append to a log; the step waits for the call only."""

    publish: str = Field(description="The topic or log published to.")
    size: Size | None = Field(default=None, description="Default: workload's request.")
    key: KeyConfig | None = Field(
        default=None,
        description="Logs: how the partition key is drawn; omitted: records "
        "spread uniformly over the partitions.",
    )
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="Topics: message attributes that subscription filters match.",
    )


class ChoiceBranch(StrictModel):
    """One branch of a choice: its relative weight and what it does."""

    weight: float = Field(
        gt=0, description="Relative weight; a branch's probability is its share."
    )
    steps: list["Step"] = Field(
        default_factory=list, description="What the branch does; empty: nothing."
    )


class ChoiceStep(StrictModel):
    """Probabilistic routing: each request takes one branch, drawn by weight."""

    choice: Annotated[list[ChoiceBranch], Field(min_length=2)]


class RepeatSettings(StrictModel):
    """Steps run once, then again with probability ``again`` after each pass."""

    steps: Annotated[list["Step"], Field(min_length=1)]
    again: float = Field(
        ge=0.0,
        le=0.99,
        description="Probability of another pass after each pass (feedback); "
        "passes are geometric with mean 1 / (1 - again), at most 100 on average.",
    )


class RepeatStep(StrictModel):
    """Feedback: the same steps again, a random number of times."""

    repeat: RepeatSettings


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in (
            "compute",
            "call",
            "parallel",
            "choice",
            "repeat",
            "send",
            "publish",
        ):
            if key in value:
                return key
        return None
    models: tuple[tuple[type, str], ...] = (
        (ComputeStep, "compute"),
        (CallStep, "call"),
        (ParallelStep, "parallel"),
        (ChoiceStep, "choice"),
        (RepeatStep, "repeat"),
        (SendStep, "send"),
        (PublishStep, "publish"),
    )
    for model, kind in models:
        if isinstance(value, model):
            return kind
    return None


Step = Annotated[
    Annotated[ComputeStep, Tag("compute")]
    | Annotated[CallStep, Tag("call")]
    | Annotated[ParallelStep, Tag("parallel")]
    | Annotated[ChoiceStep, Tag("choice")]
    | Annotated[RepeatStep, Tag("repeat")]
    | Annotated[SendStep, Tag("send")]
    | Annotated[PublishStep, Tag("publish")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step is one of: compute, call, parallel, choice, "
        "repeat, send, publish",
    ),
]
"""One step of a call graph."""

ParallelStep.model_rebuild()
ChoiceBranch.model_rebuild()
RepeatSettings.model_rebuild()


class ServiceBase(StrictModel):
    """What every service kind has."""

    work: DistributionConfig | None = Field(
        default=None,
        description="Shorthand for steps: [{compute: <work>}].",
    )
    steps: list[Step] | None = Field(
        default=None, description="What the service does for each request."
    )
    error_rate: Fraction = Field(
        default=0.0, description="Fraction of requests that fail after their work."
    )

    @model_validator(mode="after")
    def _work_or_steps(self) -> "ServiceBase":
        if (self.work is None) == (self.steps is None):
            raise ValueError("a service takes exactly one of: work, steps")
        return self

    def all_steps(self) -> list["Step"]:
        """Return the steps, expanding the ``work`` shorthand."""
        if self.steps is not None:
            return list(self.steps)
        assert self.work is not None
        return [ComputeStep(compute=self.work)]


class ContainerServiceConfig(ServiceBase):
    """A container fleet: ``replicas`` copies with ``concurrency`` workers each."""

    kind: Literal["container"] = "container"
    replicas: PositiveInt = 1
    concurrency: PositiveInt = 1
    queue_limit: int | None = Field(
        default=None,
        ge=0,
        description="Requests that may wait for a worker in a queue (the shared "
        "one, or each replica's); beyond it they are rejected. Omitted: unbounded.",
    )
    hourly_price: Money | None = Field(
        default=None, description="Price of one replica-hour, for the cost report."
    )
    load_balancing: LoadBalancing = Field(
        default=LoadBalancingSettings(),
        description="shared-queue (default): one queue feeds every worker, as "
        "M/M/c assumes; a per-replica policy gives each replica its own queue.",
    )
    faults: list[Fault] = Field(
        default_factory=list, description="Slowdowns, errors and outages in time."
    )

    @model_validator(mode="after")
    def _replicas_addressable(self) -> "ContainerServiceConfig":
        balancing = self.load_balancing
        if balancing.outlier_detection is not None and not balancing.per_replica:
            raise ValueError(
                "outlier detection ejects replicas, so it needs a per-replica "
                "load_balancing policy, not shared-queue"
            )
        for index, fault in enumerate(self.faults):
            if fault.replica is None:
                continue
            if fault.replica >= self.replicas:
                raise ValueError(
                    f"faults[{index}] hits replica {fault.replica}, but replicas "
                    f"are numbered 0 to {self.replicas - 1}"
                )
            if not balancing.per_replica:
                raise ValueError(
                    f"faults[{index}] hits one replica; a shared queue does not say "
                    "which replica serves a request, so use a per-replica "
                    "load_balancing policy (or omit replica for the whole service)"
                )
        return self


class EventInvokeConfig(StrictModel):
    """A function's handling of asynchronous invocations (AWS defaults)."""

    retries: int = Field(
        default=2,
        ge=0,
        le=2,
        description="Attempts after a failed one: 0, 1 or 2 (1 and 2 min apart).",
    )
    maximum_event_age: Duration = Field(
        default=6 * 3600.0,
        ge=60.0,
        le=6 * 3600.0,
        description="An event older than this when its turn comes is dropped "
        "(60s to 6h).",
    )


class LambdaServiceConfig(ServiceBase):
    """A Lambda function: instances on demand, billed per request and GB-second."""

    kind: Literal["lambda"]
    memory_mb: int = Field(
        ge=128,
        le=10240,
        description="Memory in MB as Lambda counts it (1024 MB = 1 GB of GB-seconds).",
    )
    architecture: Literal["x86", "arm64"] = "x86"
    cold_start: DistributionConfig = Field(
        description="Init time of a new instance (billed, like the handler)."
    )
    keep_alive: Duration = Field(
        default=600.0, description="How long an idle instance stays warm."
    )
    concurrency_limit: PositiveInt | None = Field(
        default=None,
        description="Reserved concurrency: the function's own cap on concurrent "
        "invocations, set aside from the account's. Omitted: it shares the "
        "account's unreserved concurrency with the other functions.",
    )
    provisioned_concurrency: int = Field(
        default=0,
        ge=0,
        description="Instances kept initialised: they never cold-start and are "
        "billed by the hour; invocations beyond them run on demand.",
    )
    event_invoke: EventInvokeConfig = Field(
        default=EventInvokeConfig(),
        description="How asynchronous (Event) invocations are retried and aged.",
    )

    @model_validator(mode="after")
    def _provisioned_within_reserved(self) -> "LambdaServiceConfig":
        limit = self.concurrency_limit
        if limit is not None and self.provisioned_concurrency > limit:
            raise ValueError(
                f"provisioned_concurrency ({self.provisioned_concurrency}) cannot "
                f"exceed the reserved concurrency_limit ({limit})"
            )
        return self


ServiceConfig = Annotated[
    ContainerServiceConfig | LambdaServiceConfig, Field(discriminator="kind")
]


class PricingChanges(StrictModel):
    """Pricing settings a topology may change from the scenario's."""

    free_tier: bool | None = None
    gigabyte: Literal["binary", "decimal"] | None = None
    overrides: dict[str, PriceOverride | float] = Field(default_factory=dict)


class Pricing(StrictModel):
    """Which prices apply and how usage is turned into a monthly bill."""

    provider: Literal["aws"] = "aws"
    region: str = "us-east-1"
    free_tier: bool = Field(
        default=False, description="Apply free allowances, once per account."
    )
    hours_per_month: float = Field(default=730.0, gt=0)
    gigabyte: Literal["binary", "decimal"] = Field(
        default="binary",
        description="Bytes in a billed GB: binary 2^30 (AWS) or decimal 10^9.",
    )
    overrides: dict[str, PriceOverride | float] = Field(
        default_factory=dict, description="Price key to a new price."
    )

    def merged(self, changes: PricingChanges | None) -> "Pricing":
        """Return these settings with a topology's changes applied."""
        if changes is None:
            return self
        return self.model_copy(
            update={
                "free_tier": self.free_tier
                if changes.free_tier is None
                else changes.free_tier,
                "gigabyte": changes.gigabyte or self.gigabyte,
                "overrides": {**self.overrides, **changes.overrides},
            }
        )


class Topology(StrictModel):
    """One design alternative: services, links, and where requests enter."""

    description: str | None = None
    services: dict[str, ServiceConfig] = Field(min_length=1)
    links: dict[str, LinkConfig] = Field(default_factory=dict)
    channels: dict[str, ChannelConfig] = Field(
        default_factory=dict,
        description="Queues, topics and logs that send and publish steps use.",
    )
    entrypoint: Annotated[list[Step], Field(min_length=1)] = Field(
        description="What the workload's client does with each request."
    )
    pricing: PricingChanges | None = None
    lambda_account_concurrency: PositiveInt = Field(
        default=1000,
        description="Concurrent Lambda executions of the account, shared by "
        "the functions without reserved concurrency (AWS default 1000).",
    )


class Burst(StrictModel):
    """Extra arrivals for a while, on top of the steady rate."""

    start: Duration = Field(description="When it starts, from the start of the run.")
    duration: Duration = Field(gt=0)
    rate: Rate = Field(gt=0, description="Arrivals added, of the same kind.")


class Arrivals(StrictModel):
    """Open-loop arrivals: they never wait for responses."""

    kind: Literal["poisson", "constant"] = "poisson"
    rate: Rate = Field(gt=0)
    bursts: list[Burst] = Field(
        default_factory=list,
        description="Bursts of extra arrivals; the month's volume (monthly "
        "requests, else the steady rate) does not count them.",
    )


class ClosedUsers(StrictModel):
    """Closed-loop users: each thinks, sends a request, waits for its response.

    The offered rate is not set but follows from the topology: ``users`` /
    (think time + latency). Each user starts with a think time.
    """

    kind: Literal["closed"]
    users: PositiveInt
    think_time: DistributionConfig = Field(
        description="Time a user waits between a response and its next request."
    )


def _arrivals_kind(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else value.kind
    return "closed" if kind == "closed" else "open"


ArrivalsConfig = Annotated[
    Annotated[Arrivals, Tag("open")] | Annotated[ClosedUsers, Tag("closed")],
    Discriminator(_arrivals_kind),
]
"""Open-loop arrivals at a rate, or closed-loop users with think time."""


class Workload(StrictModel):
    """The requests that enter every topology."""

    arrivals: ArrivalsConfig
    request_size: Size = 1000.0
    response_size: Size = 1000.0
    monthly_requests: Count | None = Field(
        default=None,
        description="Requests a month, for cost; omitted: the arrival rate over "
        "the month.",
    )


class RunSettings(StrictModel):
    """How long to simulate and how many times.

    The measured window lasts ``duration`` of simulated time, or until
    ``requests`` measured requests have arrived (exactly one of the two).
    The warm-up before it is a fixed time or ``auto``: MSER-5 chooses it per
    replication (see :mod:`simulator.engine.warmup`).
    """

    duration: Duration | None = Field(
        default=None, gt=0, description="Measured simulated time."
    )
    requests: Count | None = Field(
        default=None,
        ge=1,
        description="Measured requests: the window ends when this many have arrived.",
    )
    warmup: Literal["auto"] | Duration = Field(
        default=0.0,
        description="Simulated time discarded first, or auto (MSER-5).",
    )
    drain: Duration = Field(
        default=60.0,
        description="After the window, time allowed for measured requests to finish.",
    )
    replications: PositiveInt = 1

    @model_validator(mode="after")
    def _one_length(self) -> "RunSettings":
        if (self.duration is None) == (self.requests is None):
            raise ValueError("run takes exactly one of: duration, requests")
        if self.requests is not None and not float(self.requests).is_integer():
            raise ValueError("run.requests must be a whole number of requests")
        return self


class Scenario(StrictModel):
    """A whole scenario file."""

    name: str
    description: str | None = None
    seed: int = Field(default=1, ge=0)
    run: RunSettings
    workload: Workload
    pricing: Pricing = Pricing()
    topologies: dict[str, Topology] = Field(min_length=1)
