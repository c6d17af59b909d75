"""The scenario file: a workload, topologies to compare, pricing, run settings.

Every section rejects unknown keys, every value carries its unit, and the cross
references (a call names a declared service and link, a pattern fits the
service it calls, no service calls itself round a cycle) are checked before
anything runs.
"""

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from simulator.patterns import LinkConfig
from simulator.pricing.catalog import PriceOverride
from simulator.scenario.base import DistributionConfig, StrictModel
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


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("compute", "call", "parallel"):
            if key in value:
                return key
        return None
    models: tuple[tuple[type, str], ...] = (
        (ComputeStep, "compute"),
        (CallStep, "call"),
        (ParallelStep, "parallel"),
    )
    for model, kind in models:
        if isinstance(value, model):
            return kind
    return None


Step = Annotated[
    Annotated[ComputeStep, Tag("compute")]
    | Annotated[CallStep, Tag("call")]
    | Annotated[ParallelStep, Tag("parallel")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step is one of: compute, call, parallel",
    ),
]
"""One step of a call graph."""

ParallelStep.model_rebuild()


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
        description="Requests that may wait for a worker; beyond it they are "
        "rejected. Omitted: unbounded.",
    )
    hourly_price: Money | None = Field(
        default=None, description="Price of one replica-hour, for the cost report."
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
    concurrency_limit: PositiveInt = Field(
        default=1000, description="Concurrent invocations before throttling."
    )


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
    entrypoint: Annotated[list[Step], Field(min_length=1)] = Field(
        description="What the workload's client does with each request."
    )
    pricing: PricingChanges | None = None


class Arrivals(StrictModel):
    """Open-loop arrivals: they never wait for responses."""

    kind: Literal["poisson", "constant"] = "poisson"
    rate: Rate = Field(gt=0)


class Workload(StrictModel):
    """The requests that enter every topology."""

    arrivals: Arrivals
    request_size: Size = 1000.0
    response_size: Size = 1000.0
    monthly_requests: Count | None = Field(
        default=None,
        description="Requests a month, for cost; omitted: the arrival rate over "
        "the month.",
    )


class RunSettings(StrictModel):
    """How long to simulate and how many times."""

    duration: Duration = Field(gt=0, description="Measured simulated time.")
    warmup: Duration = Field(default=0.0, description="Simulated time discarded first.")
    drain: Duration = Field(
        default=60.0,
        description="After the window, time allowed for measured requests to finish.",
    )
    replications: PositiveInt = 1


class Scenario(StrictModel):
    """A whole scenario file."""

    name: str
    description: str | None = None
    seed: int = Field(default=1, ge=0)
    run: RunSettings
    workload: Workload
    pricing: Pricing = Pricing()
    topologies: dict[str, Topology] = Field(min_length=1)
