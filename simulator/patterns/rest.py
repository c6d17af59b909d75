"""REST over HTTP/1.1: JSON messages, one call per connection at a time.

A JSON body is larger than the binary encoding of the same message and slower
to encode and decode; its ``encoding`` says by how much (there is no controlled
public benchmark, so a scenario states its assumption). Connections are either
reused (keep-alive: a call takes an idle connection of the caller's pool and
only opens a new one, paying the handshake, when none is idle; HTTP/1.1 carries
one call per connection at a time) or opened for every call. REST carries no
deadline: the callee's own calls start without one.

A response may carry an error status: ``failures`` maps a status code to the
fraction of calls answered with it, drawn after the callee's work. 429 fails
with cause ``throttled``, any other status with cause ``failed``.
"""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simulator.engine.crn import uniform_for_requests
from simulator.engine.hop import Payload
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.engine.services import Service
from simulator.patterns.wire import WireConfig, WireHop, without_deadline
from simulator.scenario.types import Fraction

StatusCode = Annotated[int, Field(ge=400, le=599)]

_THROTTLED_STATUS = 429


class RestLink(WireConfig):
    """A REST (HTTP/1.1 and JSON) link."""

    pattern: Literal["rest"]
    connection: Literal["reuse", "per-call"] = Field(
        default="reuse",
        description="reuse: keep-alive pool, a handshake only when no idle "
        "connection; per-call: a new connection (and handshake) every call.",
    )
    failures: dict[StatusCode, Fraction] = Field(
        default_factory=dict,
        description="Status code to the fraction of calls answered with it.",
    )

    @model_validator(mode="after")
    def _fractions_fit(self) -> "Config":
        total = sum(self.failures.values())
        if total > 1.0:
            raise ValueError(f"failure fractions add up to {total:g}, above 1")
        return self


Config = RestLink
"""The name every pattern module gives its settings model."""


class RestHop(WireHop):
    """Handshake if needed, JSON request, the callee, JSON response, status."""

    pattern = "rest"

    def __init__(self, name: str, config: Config, runtime: Runtime) -> None:
        super().__init__(name, config, runtime)
        self.reuse = config.connection == "reuse"
        self.idle_connections = 0
        self.statuses = sorted(config.failures.items())
        # The status follows the request (common random numbers).
        self.status_draw = uniform_for_requests(
            runtime.streams.seed_of(f"link/{name}/status")
        )
        self.status_counts: dict[int, int] = {}

    def connect(self, request: Request) -> Process:
        """Take an idle pooled connection, or open one and pay the handshake."""
        if self.reuse and self.idle_connections:
            self.idle_connections -= 1
            return 0.0

        handshake_s = self.handshake_s()
        if request.measured:
            self.figures.handshakes += 1
        if handshake_s:
            yield self.env.timeout(handshake_s)
        return handshake_s

    def release(self, reusable: bool) -> None:
        """Put the connection back in the pool if connections are reused."""
        if self.reuse and reusable:
            self.idle_connections += 1

    def callee_request(self, request: Request) -> Request:
        """REST carries no deadline to the callee."""
        return without_deadline(request)

    def _status(self, request: Request) -> int | None:
        if not self.statuses:
            return None
        draw = self.status_draw(request)
        for status, fraction in self.statuses:
            if draw < fraction:
                return status
            draw -= fraction
        return None

    def exchange(self, request: Request, target: Service, payload: Payload) -> Process:
        """Make the call; fail with the response's error status if it has one."""
        result = yield from self.carry(
            request, target, payload, self.callee_request(request)
        )

        status = self._status(request)
        if status is not None:
            if request.measured:
                self.status_counts[status] = self.status_counts.get(status, 0) + 1
            cause = "throttled" if status == _THROTTLED_STATUS else "failed"
            raise RequestFailed(cause, self.name)
        return result

    def extra_report(self) -> dict[str, object]:
        """Wire figures plus the error statuses answered."""
        return {
            **super().extra_report(),
            "connection": "reuse" if self.reuse else "per-call",
            "error_statuses": {
                str(status): n for status, n in sorted(self.status_counts.items())
            },
        }


HOP = RestHop
