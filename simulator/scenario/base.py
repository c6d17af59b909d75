"""Building blocks of scenario files shared by the patterns.

Distributions, network settings, the base of every link and the resilience
settings (timeouts, retries, circuit breaking, load balancing) every link has.
"""

import math
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from simulator.scenario.types import Bandwidth, Duration


class StrictModel(BaseModel):
    """A scenario section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Constant(StrictModel):
    """Always the same duration."""

    kind: Literal["constant"] = "constant"
    value: Duration


class Exponential(StrictModel):
    """Memoryless durations with the given mean."""

    kind: Literal["exponential"]
    mean: Duration


class Uniform(StrictModel):
    """Durations spread evenly between ``low`` and ``high``."""

    kind: Literal["uniform"]
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if self.high < self.low:
            raise ValueError("uniform needs low <= high")
        return self


# z-score of the 99th percentile of the standard normal distribution.
_Z99 = 2.3263478740408408


class Lognormal(StrictModel):
    """Right-skewed durations, given as mean and sd, or as p50 and p99.

    Dashboards show percentiles, so ``p50`` and ``p99`` fit the distribution
    whose median and 99th percentile are exactly those values.
    """

    kind: Literal["lognormal"]
    mean: Duration | None = None
    sd: Duration | None = None
    p50: Duration | None = None
    p99: Duration | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "Lognormal":
        by_moments = self.mean is not None and self.sd is not None
        by_percentiles = self.p50 is not None and self.p99 is not None
        if by_moments == by_percentiles or (
            by_moments and (self.p50 is not None or self.p99 is not None)
        ):
            raise ValueError(
                "lognormal takes exactly one of: mean and sd, or p50 and p99"
            )
        if by_moments and (self.mean or 0) <= 0:
            raise ValueError("lognormal mean must be above zero")
        if by_percentiles and not (0 < (self.p50 or 0) <= (self.p99 or 0)):
            raise ValueError("lognormal needs 0 < p50 <= p99")
        try:
            mu, sigma = self.mu_sigma()
        except (ArithmeticError, ValueError):
            raise ValueError("lognormal parameters out of range") from None
        if not (math.isfinite(mu) and math.isfinite(sigma)) or sigma <= 0:
            raise ValueError(
                "lognormal needs a spread: sd > 0, or p99 above p50 "
                "(use a constant for a fixed duration)"
            )
        return self

    def mu_sigma(self) -> tuple[float, float]:
        """Return the parameters of the underlying normal distribution."""
        if self.p50 is not None and self.p99 is not None:
            mu = math.log(self.p50)
            return mu, (math.log(self.p99) - mu) / _Z99

        mean, sd = float(self.mean or 0), float(self.sd or 0)
        sigma2 = math.log(1 + (sd / mean) ** 2)
        return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


class Empirical(StrictModel):
    """Durations drawn with equal probability from measured values."""

    kind: Literal["empirical"]
    values: Annotated[list[Duration], Field(min_length=1)]


def _shorthand(value: object) -> object:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"kind": "constant", "value": value}
    return value


DistributionConfig = Annotated[
    Constant | Exponential | Uniform | Lognormal | Empirical,
    Field(discriminator="kind"),
    BeforeValidator(_shorthand),
]
"""A duration distribution; a plain duration such as ``300ms`` is a constant."""


def distribution_mean(config: DistributionConfig) -> float:
    """Return the mean of a duration distribution, in seconds."""
    if isinstance(config, Constant):
        return config.value
    if isinstance(config, Exponential):
        return config.mean
    if isinstance(config, Uniform):
        return (config.low + config.high) / 2
    if isinstance(config, Lognormal):
        mu, sigma = config.mu_sigma()
        return math.exp(mu + sigma**2 / 2)
    return sum(config.values) / len(config.values)


def distribution_minimum(config: DistributionConfig) -> float:
    """Return the smallest duration the distribution can produce."""
    if isinstance(config, Constant):
        return config.value
    if isinstance(config, Uniform):
        return config.low
    if isinstance(config, Empirical):
        return min(config.values)
    return 0.0


Zone = Literal["same-az", "cross-az", "cross-region", "internet"]


class NetworkSettings(StrictModel):
    """How the bytes of a hop travel.

    ``latency`` is one-way and paid on each leg (request and response).
    ``zone`` says where the caller sits relative to the callee and so which
    data-transfer meter the bytes run on: nothing in the same zone, both
    directions across zones or regions, the response leg out to the internet.
    """

    latency: DistributionConfig = Constant(value=0.0)
    bandwidth: Bandwidth | None = Field(
        default=None,
        gt=0,
        description="Bytes per second (payload time = size / bandwidth); "
        "omit for no payload time.",
    )
    zone: Zone = "same-az"


FailureCause = Literal["timeout", "failed", "throttled", "rejected", "circuit_open"]
"""A cause of failure a resilience setting can react to."""


def _causes(*causes: FailureCause) -> Callable[[], list[FailureCause]]:
    return lambda: list(causes)


class Backoff(StrictModel):
    """The wait before a retry: exponential, capped, with optional full jitter.

    Before retry n the ceiling is ``min(max, base x multiplier^(n-1))``; full
    jitter waits a uniform time in [0, ceiling), none waits the ceiling.
    """

    base: Duration = Field(default=0.025, description="Ceiling before retry 1.")
    max: Duration | None = Field(
        default=None, description="Largest ceiling. Omitted: 10 x base (Envoy)."
    )
    multiplier: float = Field(default=2.0, ge=1.0)
    jitter: Literal["full", "none"] = "full"

    @property
    def max_s(self) -> float:
        """The largest ceiling, in seconds."""
        return self.max if self.max is not None else 10.0 * self.base


class RetryBudget(StrictModel):
    """Retries allowed as a share of requests over a sliding window.

    A retry may start when the retries started in the last ``window``, this one
    included, are at most ``percent`` % of the calls started in that window
    plus ``min_retries_per_s`` x ``window`` (so a quiet link can still retry).
    """

    percent: float = Field(gt=0, le=100, description="Retries per 100 calls.")
    window: Duration = Field(default=10.0, gt=0)
    min_retries_per_s: float = Field(default=0.0, ge=0)


class Retries(StrictModel):
    """Trying a failed call again over the same link."""

    attempts: int = Field(
        ge=1,
        description="Tries in all, the first included (Istio's attempts + 1).",
    )
    retry_on: list[FailureCause] = Field(
        default_factory=_causes("timeout", "failed", "rejected"),
        description="Causes that are retried; others fail the call at once.",
    )
    backoff: Backoff = Backoff()
    budget: RetryBudget | None = None


class CircuitBreaker(StrictModel):
    """Failing fast (cause ``circuit_open``) instead of piling load on a callee.

    Two independent mechanisms, as in Envoy and resilience libraries:
    concurrency limits (``max_active`` tries in flight, ``max_pending`` more
    waiting for one of them) and a consecutive-failure breaker that opens after
    ``consecutive_failures``, stays open for ``open_for``, then lets
    ``half_open_requests`` trial tries through: they close it if they all
    succeed, and any failure among them opens it again.
    """

    max_active: int | None = Field(default=None, ge=1)
    max_pending: int = Field(
        default=0, ge=0, description="Tries that may wait when all are active."
    )
    consecutive_failures: int | None = Field(default=None, ge=1)
    open_for: Duration = Field(default=30.0, gt=0)
    half_open_requests: int = Field(default=1, ge=1)
    trip_on: list[FailureCause] = Field(
        default_factory=_causes("timeout", "failed", "rejected", "throttled"),
        description="Causes that count as failures for the breaker.",
    )

    @model_validator(mode="after")
    def _something_to_do(self) -> "CircuitBreaker":
        if self.max_active is None and self.consecutive_failures is None:
            raise ValueError(
                "a circuit breaker needs max_active, consecutive_failures or both"
            )
        if self.max_pending and self.max_active is None:
            raise ValueError("max_pending needs max_active")
        return self


BalancingPolicy = Literal[
    "shared-queue", "round-robin", "random", "least-request", "power-of-two-choices"
]
"""How a request finds a replica; shared-queue is one queue for all workers."""


class OutlierDetection(StrictModel):
    """Ejecting a replica after consecutive failures (Envoy's outlier detection).

    The n-th ejection of a replica lasts ``base_ejection_time`` x n, at most
    ``max_ejection_time``; at most ``max_ejection_percent`` % of the replicas
    (at least one) are ejected at once. Ejection and return happen at exact
    instants (Envoy returns hosts at its next interval sweep).
    """

    consecutive_failures: int = Field(default=5, ge=1)
    base_ejection_time: Duration = Field(default=30.0, gt=0)
    max_ejection_time: Duration = Field(default=300.0, gt=0)
    max_ejection_percent: float = Field(default=10.0, gt=0, le=100)
    failure_causes: list[FailureCause] = Field(
        default_factory=_causes("timeout", "failed", "rejected"),
        description="Causes that count as a replica's failure.",
    )


def _policy_shorthand(value: object) -> object:
    return {"policy": value} if isinstance(value, str) else value


class LoadBalancingSettings(StrictModel):
    """A balancing policy and, optionally, outlier detection."""

    policy: BalancingPolicy = "shared-queue"
    outlier_detection: OutlierDetection | None = None

    @property
    def per_replica(self) -> bool:
        """Whether each replica has a queue of its own."""
        return self.policy != "shared-queue"


LoadBalancing = Annotated[LoadBalancingSettings, BeforeValidator(_policy_shorthand)]
"""Load balancing settings; a plain policy name such as ``round-robin`` is one."""


class LinkBase(StrictModel):
    """Settings every link has, whatever its pattern.

    The resilience settings (timeouts, retries, circuit breaking, client-side
    load balancing) apply to any synchronous hop, whatever its pattern, and
    stack across layers: a call retried 3 times whose callee retries its own
    call 3 times makes up to 9 tries at the inner service.
    """

    pattern: str
    network: NetworkSettings = NetworkSettings()
    description: str | None = None
    timeout: Duration | None = Field(
        default=None, gt=0, description="How long the caller waits for one try."
    )
    overall_timeout: Duration | None = Field(
        default=None,
        gt=0,
        description="How long the caller waits for the call, retries included.",
    )
    cancel_on_timeout: bool = Field(
        default=False,
        description="On a timeout, cancel the callee's work (its worker is freed "
        "at once); false: it runs on, consuming capacity, its answer dropped.",
    )
    retries: Retries | None = None
    circuit_breaker: CircuitBreaker | None = None
    load_balancing: LoadBalancing | None = Field(
        default=None,
        description="Client-side balancing across the callee's replicas (with "
        "outlier detection on what this link sees). Omitted: the callee's own.",
    )

    @model_validator(mode="after")
    def _client_side_balancing(self) -> "LinkBase":
        if self.load_balancing is not None and not self.load_balancing.per_replica:
            raise ValueError(
                "a link balances with a per-replica policy (round-robin, random, "
                "least-request, power-of-two-choices), not shared-queue"
            )
        return self

    @property
    def resilient(self) -> bool:
        """Whether any resilience setting is on (the hop then takes the long path)."""
        return (
            self.timeout is not None
            or self.overall_timeout is not None
            or self.retries is not None
            or self.circuit_breaker is not None
            or self.load_balancing is not None
        )
