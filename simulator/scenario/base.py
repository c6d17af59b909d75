"""Building blocks of scenario files shared by the patterns.

Distributions, network settings and the base of every link.
"""

import math
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from simulator.scenario.types import Bandwidth, Duration


class StrictModel(BaseModel):
    """A scenario section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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
        description="Bytes per second (payload time = size / bandwidth); "
        "omit for no payload time.",
    )
    zone: Zone = "same-az"


class LinkBase(StrictModel):
    """Settings every link has, whatever its pattern."""

    pattern: str
    network: NetworkSettings = NetworkSettings()
    description: str | None = None
