"""Direct Lambda invoke (``RequestResponse``): the caller calls the Invoke API.

The Invoke API adds its own overhead (routing to an instance) on top of the
network. A synchronous invoke carries at most 6 MB each way; a larger payload is
rejected (413) before anything runs. The function's own behaviour (cold starts,
throttling, billing) belongs to the Lambda service, not to the hop.
"""

from typing import ClassVar, Literal

from pydantic import Field

from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.hop import Hop, Payload
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.engine.services import Service
from simulator.scenario.base import Constant, DistributionConfig, LinkBase
from simulator.scenario.types import Size

SYNC_PAYLOAD_LIMIT_BYTES = 6 * 1000**2


class Config(LinkBase):
    """A direct invoke of a Lambda function."""

    pattern: Literal["lambda-invoke"]
    overhead: DistributionConfig = Field(
        default=Constant(value=0.0),
        description="Time the Invoke API adds to a call, beyond the network.",
    )
    payload_limit: Size = Field(
        default=SYNC_PAYLOAD_LIMIT_BYTES,
        description="Largest request or response a synchronous invoke carries.",
    )


class LambdaInvokeHop(Hop):
    """Network leg, Invoke API overhead, the function, network leg."""

    pattern = "lambda-invoke"
    target_kinds: ClassVar[tuple[str, ...] | None] = ("lambda",)

    def __init__(self, name: str, config: Config, runtime: Runtime) -> None:
        super().__init__(name, config, runtime)
        self.limit = config.payload_limit
        self.overhead = make_sampler(
            config.overhead, runtime.streams.get(f"link/{name}/overhead")
        )
        self.no_overhead = is_zero(config.overhead)

    def exchange(self, request: Request, target: Service, payload: Payload) -> Process:
        """Invoke the function synchronously and wait for its result."""
        env = self.env
        network = self.network
        if max(payload.request_bytes, payload.response_bytes) > self.limit:
            raise RequestFailed("rejected", self.name)

        delay = network.leg(request, payload.request_bytes, response=False)
        if not self.no_overhead:
            delay += self.overhead()
        if delay:
            yield env.timeout(delay)

        result = yield from target.handle(request)

        delay = network.leg(request, payload.response_bytes, response=True)
        if delay:
            yield env.timeout(delay)
        return result


HOP = LambdaInvokeHop
