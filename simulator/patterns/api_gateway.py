"""API Gateway in front of a backend: a managed hop of its own.

The gateway adds its overhead to every request, throttles with a token bucket
(a steady rate plus a burst; a request that finds the bucket empty gets a 429
and never reaches the backend), and gives up on the backend after the
integration timeout (504 to the caller; the backend's work goes on). REST APIs
bill one request per call; HTTP APIs bill one request per 512 KiB of payload.

Defaults are AWS's: an account-level throttle of 10,000 requests per second with
a burst of 5,000, and the 29 s integration timeout of REST APIs (30 s for HTTP
APIs).
"""

import math
from typing import Literal

from pydantic import Field

from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.hop import Hop, Payload
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.engine.services import Service
from simulator.scenario.base import Constant, DistributionConfig, LinkBase, StrictModel
from simulator.scenario.types import Duration, Rate

HTTP_METERING_UNIT_BYTES = 512 * 1024


class Throttle(StrictModel):
    """A token bucket: ``rate`` tokens a second, holding at most ``burst``."""

    rate: Rate
    burst: int = Field(ge=1)


class Config(LinkBase):
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
            raise RequestFailed("throttled", self.name)
        self.runtime.meter(
            request, self.name, self.meter_key, self._billed_requests(payload)
        )
        yield env.timeout(self.overhead())

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


HOP = ApiGatewayHop
