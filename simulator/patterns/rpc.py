"""RPC (gRPC-like): binary messages, one multiplexed connection, deadlines.

Messages are binary (protobuf-sized: ``encoding.size_factor`` 1 by default)
and share one HTTP/2 connection per link: only the first call pays the
handshake, and calls that start while it is under way wait for the same
connection instead of opening their own.

Deadlines propagate. A call's deadline is the earlier of the deadline its
request already carries and ``deadline`` from now; the callee receives the
request with that deadline, so its own RPC calls get what is left of the
budget. A call whose deadline has passed fails at once (cause ``timeout``)
without sending anything; a callee that receives a request after its deadline
does not start work; and the caller stops waiting when the deadline passes.
Like gRPC, the callee's work is then cancelled (its worker freed at once, its
own calls cancelled in turn) unless ``cancel_on_deadline`` is false, in which
case it runs to its end and its answer is dropped.
"""

import math
from dataclasses import replace
from typing import Literal

import simpy
from pydantic import Field

from simulator.engine.detached import detached, wait_for
from simulator.engine.hop import Payload
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.engine.services import Service
from simulator.patterns.wire import WireConfig, WireHop
from simulator.scenario.types import Duration

"""What a callee's process returns when its call was cancelled."""


class RpcLink(WireConfig):
    """A gRPC-like link."""

    pattern: Literal["rpc"]
    deadline: Duration | None = Field(
        default=None,
        description="This call's own budget; the request's deadline becomes the "
        "earlier of it and the one it carries. Omitted: only the carried one.",
    )
    cancel_on_deadline: bool = Field(
        default=True,
        description="Cancel the callee's work when the deadline passes (gRPC "
        "does); false: it runs on and its answer is dropped.",
    )


Config = RpcLink
"""The name every pattern module gives its settings model."""


class RpcHop(WireHop):
    """Multiplexed connection, binary messages, deadline-bounded wait."""

    pattern = "rpc"

    def __init__(self, name: str, config: Config, runtime: Runtime) -> None:
        super().__init__(name, config, runtime)
        self.deadline_s = config.deadline if config.deadline is not None else math.inf
        self.cancel = config.cancel_on_deadline
        self.connection: simpy.Event | None = None
        self.deadline_exceeded = 0
        self.cancelled = 0
        self.expired_on_arrival = 0

    def connect(self, request: Request) -> Process:
        """Use the link's one connection, waiting for it while it opens."""
        connection = self.connection
        if connection is None:
            # The handshake is an event of its own, so every call that starts
            # meanwhile waits for the same connection.
            connection = self.env.timeout(self.handshake_s())
            self.connection = connection
            if request.measured:
                self.figures.handshakes += 1
        if connection.processed:
            return 0.0

        start = self.env.now
        yield connection
        return self.env.now - start

    def exchange(self, request: Request, target: Service, payload: Payload) -> Process:
        """Make the call within its deadline."""
        env = self.env
        now = env.now
        deadline_s = min(request.deadline_s, now + self.deadline_s)
        if math.isinf(deadline_s):
            return (yield from self.carry(request, target, payload, request))

        if deadline_s <= now:
            self._count_exceeded(request)
            raise RequestFailed("timeout", self.name)

        # The call runs as a child so the caller can stop waiting for it; a
        # cancelled caller cancels it too, as gRPC's cancellation follows the
        # chain down.
        callee_request = replace(request, deadline_s=deadline_s)
        call = env.process(
            detached(self.carry(request, target, payload, callee_request))
        )
        finished = yield from wait_for(env, call, deadline_s, self.cancel)
        if not finished:
            self._count_exceeded(request)
            if self.cancel:
                call.interrupt()
                if request.measured:
                    self.cancelled += 1
            raise RequestFailed("timeout", self.name)

        # A response must arrive before the deadline, not at it.
        result = call.value
        if isinstance(result, RequestFailed):
            raise result
        if env.now >= deadline_s:
            self._count_exceeded(request)
            raise RequestFailed("timeout", self.name)
        return result

    def _count_exceeded(self, request: Request) -> None:
        if request.measured:
            self.deadline_exceeded += 1

    def extra_report(self) -> dict[str, object]:
        """Wire figures plus what deadlines did."""
        return {
            **super().extra_report(),
            "deadline_exceeded": self.deadline_exceeded,
            "cancelled": self.cancelled,
            "expired_on_arrival": self.expired_on_arrival,
        }


HOP = RpcHop
