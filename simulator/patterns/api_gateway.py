"""API Gateway in front of a backend: a managed hop of its own.

The gateway adds its overhead to every request, throttles with a token bucket
(a steady rate plus a burst; a request that finds the bucket empty gets a 429
and never reaches the backend), and gives up on the backend after the
integration timeout (504 to the caller; the backend's work goes on). REST APIs
bill one request per call; HTTP APIs bill one request per 512 KiB of payload.

A REST API may have a response cache: a request that hits it (drawn per
request with the cache's hit ratio) skips the backend and is answered after
the gateway's overhead. Responses above 1 MiB are never cached. The cache is
billed by the hour by its size, whether requests come or not.

Defaults are AWS's: an account-level throttle of 10,000 requests per second with
a burst of 5,000, and the 29 s integration timeout of REST APIs (30 s for HTTP
APIs).
"""

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from simulator.engine.crn import uniform_for_requests
from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.hop import Hop, Payload
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.engine.services import Service
from simulator.scenario.base import Constant, DistributionConfig, LinkBase, StrictModel
from simulator.scenario.types import Duration, Fraction, Rate, Size

HTTP_METERING_UNIT_BYTES = 512 * 1024
CACHEABLE_RESPONSE_BYTES = 1_048_576
CACHE_SIZES_GB = ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237")
"""The cache sizes API Gateway offers, in GB."""


def cache_price_key(size_gb: str) -> str:
    """Return the price key of an hour of a cache of ``size_gb`` GB."""
    return f"apigw.cache.{size_gb}gb-hours"


class Throttle(StrictModel):
    """A token bucket: ``rate`` tokens a second, holding at most ``burst``."""

    rate: Rate
    burst: int = Field(ge=1)


class Cache(StrictModel):
    """A REST API stage's response cache."""

    hit_ratio: Fraction = Field(
        description="Fraction of requests answered from the cache."
    )
    size: Size = Field(
        description="Cache memory: one of " + ", ".join(CACHE_SIZES_GB) + " GB."
    )

    @field_validator("size")
    @classmethod
    def _offered_size(cls, size_bytes: float) -> float:
        if _size_label(size_bytes) is None:
            raise ValueError(
                f"API Gateway caches come in {', '.join(CACHE_SIZES_GB)} GB; "
                f"got {size_bytes / 1e9:g} GB"
            )
        return size_bytes

    @property
    def size_gb(self) -> str:
        """The cache size as API Gateway names it, in GB."""
        return _size_label(self.size) or ""


def _size_label(size_bytes: float) -> str | None:
    for label in CACHE_SIZES_GB:
        if math.isclose(size_bytes, float(label) * 1e9, rel_tol=1e-9):
            return label
    return None


class ApiGatewayLink(LinkBase):
    """An API Gateway REST or HTTP API in front of a backend."""

    pattern: Literal["api-gateway"]
    flavour: Literal["rest", "http"] = "rest"
    overhead: DistributionConfig = Field(
        description="Time the gateway adds to each request (its own processing)."
    )
    integration_latency: DistributionConfig = Field(
        default=Constant(value=0.0),
        description="One-way time between the gateway and the backend, per leg.",
    )
    throttle: Throttle | None = Field(
        default=Throttle(rate=10_000.0, burst=5_000),
        description="Token bucket; null for none. Default: AWS account level.",
    )
    integration_timeout: Duration | None = Field(
        default=None,
        description="How long the gateway waits for the backend "
        "(default 29s for REST, 30s for HTTP).",
    )
    cache: Cache | None = Field(
        default=None,
        description="Response cache (REST APIs only); null for none.",
    )

    @model_validator(mode="after")
    def _cache_on_rest(self) -> "Config":
        if self.cache is not None and self.flavour != "rest":
            raise ValueError("only REST APIs have a response cache; HTTP APIs do not")
        return self


Config = ApiGatewayLink
"""The name every pattern module gives its settings model."""


class TokenBucket:
    """Admits at most ``burst + rate x t`` requests in any span of length t."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated_s = 0.0

    def take(self, now: float) -> bool:
        """Take one token at ``now`` if there is one; return whether it was."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated_s) * self.rate)
        self.updated_s = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class ApiGatewayHop(Hop):
    """Caller to gateway, throttle, overhead, backend within the timeout, back."""

    pattern = "api-gateway"

    def __init__(self, name: str, config: Config, runtime: Runtime) -> None:
        super().__init__(name, config, runtime)
        streams = runtime.streams
        self.flavour = config.flavour
        self.meter_key = f"apigw.{config.flavour}.requests"
        self.overhead = make_sampler(
            config.overhead, streams.get(f"link/{name}/overhead")
        )
        self.integration = make_sampler(
            config.integration_latency, streams.get(f"link/{name}/integration")
        )
        self.no_integration = is_zero(config.integration_latency)
        self.bucket = (
            TokenBucket(config.throttle.rate, config.throttle.burst)
            if config.throttle is not None
            else None
        )
        default_timeout = 29.0 if config.flavour == "rest" else 30.0
        self.timeout_s = (
            config.integration_timeout
            if config.integration_timeout is not None
            else default_timeout
        )
        runtime.meters.declare(name, self.meter_key)

        self.cache = config.cache
        self.cache_hits = 0
        self.cache_misses = 0
        self.throttled = 0
        if config.cache is not None:
            # Hits follow the request (common random numbers).
            self.cache_draw = uniform_for_requests(
                streams.seed_of(f"link/{name}/cache")
            )
            runtime.meter_allocation(
                name, cache_price_key(config.cache.size_gb), 1.0 / 3600.0
            )

    def _billed_requests(self, payload: Payload) -> float:
        if self.flavour == "rest":
            return 1.0
        largest = max(payload.request_bytes, payload.response_bytes, 1.0)
        return float(math.ceil(largest / HTTP_METERING_UNIT_BYTES))

    def _backend(self, request: Request, target: Service) -> Process:
        # Run as a process of its own so the gateway can stop waiting for it.
        if not self.no_integration:
            yield self.env.timeout(self.integration())
        try:
            result = yield from target.handle(request)
        except RequestFailed as failure:
            return failure
        if not self.no_integration:
            yield self.env.timeout(self.integration())
        return result

    def exchange(self, request: Request, target: Service, payload: Payload) -> Process:
        """Pass the gateway, call the backend within the timeout, come back."""
        env = self.env
        network = self.network

        delay = network.leg(request, payload.request_bytes, response=False)
        if delay:
            yield env.timeout(delay)

        if self.bucket is not None and not self.bucket.take(env.now):
            if request.measured:
                self.throttled += 1
            raise RequestFailed("throttled", self.name)
        self.runtime.meter(
            request, self.name, self.meter_key, self._billed_requests(payload)
        )
        yield env.timeout(self.overhead())

        if self._cache_hit(request, payload):
            delay = network.leg(request, payload.response_bytes, response=True)
            if delay:
                yield env.timeout(delay)
            return None

        backend = env.process(self._backend(request, target))
        deadline = env.timeout(self.timeout_s)
        yield backend | deadline
        if not backend.triggered:
            raise RequestFailed("timeout", self.name)
        result = backend.value
        if isinstance(result, RequestFailed):
            raise result

        delay = network.leg(request, payload.response_bytes, response=True)
        if delay:
            yield env.timeout(delay)
        return result

    def _cache_hit(self, request: Request, payload: Payload) -> bool:
        # Drawn for every request, cacheable or not, so draws stay aligned.
        cache = self.cache
        if cache is None:
            return False
        hit = self.cache_draw(request) < cache.hit_ratio
        hit = hit and payload.response_bytes <= CACHEABLE_RESPONSE_BYTES
        if request.measured:
            if hit:
                self.cache_hits += 1
            else:
                self.cache_misses += 1
        return hit

    def extra_report(self) -> dict[str, object]:
        """429s, and the cache's hits and misses if it has one."""
        figures: dict[str, object] = {"throttled": self.throttled}
        if self.cache is not None:
            looked_up = self.cache_hits + self.cache_misses
            figures["cache"] = {
                "size_gb": float(self.cache.size_gb),
                "hits": self.cache_hits,
                "misses": self.cache_misses,
                "hit_ratio": self.cache_hits / looked_up if looked_up else 0.0,
            }
        return figures


HOP = ApiGatewayHop
