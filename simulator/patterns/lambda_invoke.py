"""Direct Lambda invoke: the caller calls the Invoke API, sync or as an event.

The Invoke API adds its own overhead (routing to an instance) on top of the
network. ``mode: sync`` (RequestResponse) waits for the function's result.
``mode: event`` (InvocationType Event) returns 202 once the event is on the
function's internal queue: the caller's latency is the request leg, the
overhead and the (empty) 202 leg, and the function runs later as its
concurrency allows, with automatic retries (see
:mod:`simulator.engine.lambda_events`); this link reports the events' age and
their completion separately. The run's drain waits for the events of
measured requests: give an Event scenario a drain long enough for retries
(they come one and three minutes after a failure).

Payload limits, from the AWS Lambda API reference (Invoke): "For synchronous
invocations, the maximum payload size is 6 MB. For asynchronous invocations,
the maximum payload size is 1 MB" (it was 256 KB before 2025). A larger
payload is rejected (413) before anything runs. The function's own behaviour
(cold starts, throttling, billing) belongs to the Lambda service, not the hop.
"""

import math
from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import Field

from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.hop import Hop, Payload
from simulator.engine.lambda_events import AsyncFigures
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.engine.services import LambdaService, Service
from simulator.scenario.base import Constant, DistributionConfig, LinkBase
from simulator.scenario.types import Size

SYNC_PAYLOAD_LIMIT_BYTES = 6 * 1000**2
EVENT_PAYLOAD_LIMIT_BYTES = 1000**2


class LambdaInvokeLink(LinkBase):
    """A direct invoke of a Lambda function."""

    pattern: Literal["lambda-invoke"]
    mode: Literal["sync", "event"] = Field(
        default="sync",
        description="sync (RequestResponse): wait for the result; event: 202 "
        "once queued, the function runs later.",
    )
    overhead: DistributionConfig = Field(
        default=Constant(value=0.0),
        description="Time the Invoke API adds to a call, beyond the network.",
    )
    payload_limit: Size | None = Field(
        default=None,
        description="Largest payload an invoke carries (default 6 MB sync, "
        "1 MB event).",
    )


Config = LambdaInvokeLink
"""The name every pattern module gives its settings model."""


class LambdaInvokeHop(Hop):
    """Network leg, Invoke API overhead, the function (or its queue), back."""

    pattern = "lambda-invoke"
    target_kinds: ClassVar[tuple[str, ...] | None] = ("lambda",)

    def __init__(self, name: str, config: Config, runtime: Runtime) -> None:
        super().__init__(name, config, runtime)
        self.event = config.mode == "event"
        default_limit = (
            EVENT_PAYLOAD_LIMIT_BYTES if self.event else SYNC_PAYLOAD_LIMIT_BYTES
        )
        self.limit = (
            config.payload_limit if config.payload_limit is not None else default_limit
        )
        self.overhead = make_sampler(
            config.overhead, runtime.streams.get(f"link/{name}/overhead")
        )
        self.no_overhead = is_zero(config.overhead)
        self.rejected = 0
        self.async_figures = AsyncFigures()

    def exchange(self, request: Request, target: Service, payload: Payload) -> Process:
        """Invoke the function and wait for its result, or for the 202."""
        env = self.env
        network = self.network

        # An event carries only a request; a sync invoke carries both ways.
        largest = payload.request_bytes
        if not self.event:
            largest = max(largest, payload.response_bytes)
        if largest > self.limit:
            if request.measured:
                self.rejected += 1
            raise RequestFailed("rejected", self.name)

        delay = network.leg(request, payload.request_bytes, response=False)
        if not self.no_overhead:
            delay += self.overhead()
        if delay:
            yield env.timeout(delay)

        if self.event:
            assert isinstance(target, LambdaService)
            target.invoke_event(_detached(request), self.async_figures)
            result = None
            response_bytes = 0.0
        else:
            result = yield from target.handle(request)
            response_bytes = payload.response_bytes

        delay = network.leg(request, response_bytes, response=True)
        if delay:
            yield env.timeout(delay)
        return result

    def extra_report(self) -> dict[str, object]:
        """Payloads rejected, and what became of the events of an event link."""
        figures: dict[str, object] = {
            "mode": "event" if self.event else "sync",
            "rejected": self.rejected,
        }
        if self.event:
            figures.update(self.async_figures.report())
        return figures


def _detached(request: Request) -> Request:
    # An event outlives its caller's deadline: the function runs later anyway.
    if math.isinf(request.deadline_s):
        return request
    return replace(request, deadline_s=math.inf)


HOP = LambdaInvokeHop
