"""The hop: one link between a caller and a callee, made by a pattern.

A pattern module (``simulator/patterns/*.py``) subclasses :class:`Hop` and
implements :meth:`Hop.exchange`, the request and response legs with whatever
the pattern puts between them (a gateway, an invoke API, a broker). The base
class measures every call (count, errors, latency as seen by the caller), so a
pattern only says how a call is made, not how it is measured.

The base class also applies the link's resilience settings around each try,
whatever the pattern: per-try and overall timeouts, retries with backoff and a
budget, circuit breaking and client-side load balancing. A try with a timeout
runs as a child process so the caller can stop waiting for it; with
``cancel_on_timeout`` the child is interrupted and every service it holds frees
its worker, so ``exchange`` implementations must be interrupt-safe (release in
``finally``). A hop without resilience settings calls ``exchange`` inline and
pays nothing for them.
"""

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from simulator.engine.detached import CANCELLED, detached, wait_for
from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.resilience import Resilience
from simulator.engine.runtime import (
    ERROR_CAUSES,
    Process,
    Request,
    RequestFailed,
    Runtime,
)
from simulator.metrics.histogram import LatencyHistogram
from simulator.scenario.base import LinkBase, NetworkSettings

if TYPE_CHECKING:
    from simulator.engine.services import Service

"""What a detached try returns when it was cancelled."""

# Which data-transfer meter each zone runs on, for (request leg, response leg),
# and how many times a byte is billed (cross-AZ bytes are billed out and in).
_TRANSFER_METERS: dict[str, tuple[str | None, str | None, float]] = {
    "same-az": (None, None, 0.0),
    "cross-az": ("transfer.cross-az", "transfer.cross-az", 2.0),
    "cross-region": ("transfer.inter-region", "transfer.inter-region", 1.0),
    "internet": (None, "transfer.internet-out", 1.0),
}


@dataclass(frozen=True, slots=True)
class Payload:
    """The sizes of one call's request and response, in bytes."""

    request_bytes: float
    response_bytes: float


class Network:
    """The network under a hop: one-way latency plus payload time per leg."""

    def __init__(self, settings: NetworkSettings, runtime: Runtime, owner: str) -> None:
        self.runtime = runtime
        self.owner = owner
        self.sample = make_sampler(
            settings.latency, runtime.streams.get(f"link/{owner}/network")
        )
        self.bandwidth = settings.bandwidth
        self.free = is_zero(settings.latency) and settings.bandwidth is None
        request_meter, response_meter, factor = _TRANSFER_METERS[settings.zone]
        self.request_meter = request_meter
        self.response_meter = response_meter
        self.factor = factor
        for meter in {request_meter, response_meter} - {None}:
            runtime.meters.declare(owner, str(meter))

    def leg(self, request: Request, size_bytes: float, response: bool) -> float:
        """Meter one leg's bytes and return how long the leg takes, in seconds."""
        meter = self.response_meter if response else self.request_meter
        if meter is not None:
            self.runtime.meter(request, self.owner, meter, size_bytes * self.factor)

        if self.free:
            return 0.0
        delay = self.sample()
        if self.bandwidth is not None:
            delay += size_bytes / self.bandwidth
        return delay


class Hop:
    """A link of a topology, as made by one pattern.

    Attributes:
        pattern: The pattern's name in scenario files.
        name: The link's name in the topology.
    """

    pattern: ClassVar[str] = ""
    target_kinds: ClassVar[tuple[str, ...] | None] = None
    """Service kinds this pattern can call; None for any."""
    caller_kinds: ClassVar[tuple[str, ...] | None] = None
    """Who may call over this pattern (service kinds or ``entrypoint``); None: any."""

    def __init__(self, name: str, config: LinkBase, runtime: Runtime) -> None:
        self.name = name
        self.config = config
        self.runtime = runtime
        self.env = runtime.env
        self.network = Network(config.network, runtime, name)
        self.calls = 0
        self.errors = dict.fromkeys(ERROR_CAUSES, 0)
        self.latency = LatencyHistogram()
        self.guard = Resilience(config, runtime, name) if config.resilient else None

    def call(self, request: Request, target: "Service", payload: Payload) -> Process:
        """Make one call over this hop and wait for its response.

        Raises:
            RequestFailed: The call failed; the cause says why.
        """
        if self.guard is not None:
            return (yield from self._guarded_call(request, target, payload))

        # Calls are counted when they start, so that calls cancelled by an
        # outer layer still count and tries per call never exceed the policy.
        start = self.env.now
        measured = request.measured
        if measured:
            self.calls += 1
        try:
            result = yield from self.exchange(request, target, payload)
        except RequestFailed as failure:
            if measured:
                self.errors[failure.cause] += 1
            raise

        if measured:
            self.latency.record(self.env.now - start)
        return result

    def exchange(
        self, request: Request, target: "Service", payload: Payload
    ) -> Process:
        """Carry the request to ``target``, run it there, and carry the response."""
        raise NotImplementedError

    def attach(self, callers: "list[Service | None]", callees: "list[Service]") -> None:
        """Learn the link's ends once the topology is built; nothing by default.

        Args:
            callers: The services that call over the link; None for the
                entrypoint (the workload's client).
            callees: The services it calls.
        """

    def _guarded_call(
        self, request: Request, target: "Service", payload: Payload
    ) -> Process:
        # The call with its resilience settings: tries until one succeeds, a
        # failure is not to be retried, or the time or the budget runs out.
        env = self.env
        guard = self.guard
        assert guard is not None
        measured = request.measured
        start = env.now
        overall_end_s = start + guard.overall_s
        if measured:
            self.calls += 1
        if guard.budget is not None:
            guard.budget.call_started(start)

        attempt = 0
        while True:
            attempt += 1
            if measured:
                guard.attempts += 1
            try:
                result = yield from self._try(request, target, payload, overall_end_s)
            except RequestFailed as failure:
                if measured:
                    guard.try_errors[failure.cause] += 1
                if (
                    attempt >= guard.max_attempts
                    or failure.cause not in guard.retry_on
                    or env.now >= request.deadline_s
                    or guard.backoff is None
                ):
                    self._failed(request, failure)
                    raise

                # The overall timeout may run out during the backoff: the
                # caller then gives up at its instant.
                wait_s = guard.backoff.wait_s(attempt)
                if env.now + wait_s >= overall_end_s:
                    yield env.timeout(overall_end_s - env.now)
                    timeout = RequestFailed("timeout", self.name)
                    self._failed(request, timeout)
                    raise timeout from None
                if guard.budget is not None and not guard.budget.allow(env.now):
                    if measured:
                        guard.budget_denied += 1
                    self._failed(request, failure)
                    raise

                if measured:
                    guard.retries += 1
                if wait_s > 0:
                    yield env.timeout(wait_s)
                continue

            if measured:
                self.latency.record(env.now - start)
            return result

    def _failed(self, request: Request, failure: RequestFailed) -> None:
        if request.measured:
            self.errors[failure.cause] += 1

    def _try(
        self,
        request: Request,
        target: "Service",
        payload: Payload,
        overall_end_s: float,
    ) -> Process:
        # One try: past the breaker and the concurrency limit, to the replica
        # this link's balancer picks, within the per-try deadline.
        env = self.env
        guard = self.guard
        assert guard is not None
        deadline_s = min(env.now + guard.timeout_s, overall_end_s)
        breaker = guard.breaker
        trial = breaker.admit(env.now) if breaker is not None else False

        limit = guard.limit
        holding = False
        balancer = None
        replica = 0
        outcome: str | None = "cancelled"
        try:
            if limit is not None:
                yield from limit.acquire(deadline_s, request.measured)
                holding = True

            callee = target
            if guard.balancing is not None:
                balancer, service = guard.balancer_for(target)
                replica = balancer.pick(env.now, request.measured)
                callee = service.replica(replica)

            if deadline_s == math.inf:
                result = yield from self.exchange(request, callee, payload)
            else:
                result = yield from self._within(request, callee, payload, deadline_s)
            outcome = None
            return result
        except RequestFailed as failure:
            outcome = failure.cause
            raise
        finally:
            now = env.now
            if holding and limit is not None:
                limit.release()
            if breaker is not None:
                if outcome == "cancelled":
                    breaker.abandon(trial)
                else:
                    breaker.record(trial, outcome, now)
            if balancer is not None:
                balancer.finished(replica, outcome, now)

    def _within(
        self, request: Request, target: "Service", payload: Payload, deadline_s: float
    ) -> Process:
        # The try runs as a child process so the caller can stop waiting at
        # the deadline; with cancel_on_timeout the child is interrupted.
        env = self.env
        guard = self.guard
        assert guard is not None
        remaining_s = deadline_s - env.now
        if remaining_s <= 0:
            raise RequestFailed("timeout", self.name)

        child = env.process(detached(self.exchange(request, target, payload)))
        finished = yield from wait_for(env, child, deadline_s, guard.cancel)
        if not finished:
            if guard.cancel:
                child.interrupt()
                if request.measured:
                    guard.cancelled += 1
            raise RequestFailed("timeout", self.name)
        result = child.value
        if isinstance(result, RequestFailed):
            raise result
        if result is CANCELLED:
            raise RequestFailed("failed", self.name)
        return result

    def report(self) -> dict[str, object]:
        """Return what this hop measured, for the per-hop part of the report.

        ``attempts`` counts tries (retries included) of measured calls, so
        ``attempts_per_call`` is this hop's retry amplification.
        """
        attempts = self.guard.attempts if self.guard is not None else self.calls
        return {
            "link": self.name,
            "pattern": self.pattern,
            "calls": self.calls,
            "attempts": attempts,
            "attempts_per_call": attempts / self.calls if self.calls else 0.0,
            "errors": {cause: n for cause, n in self.errors.items() if n},
            "latency_s": self.latency.summary(),
            **(self.guard.report() if self.guard is not None else {}),
            **self.extra_report(),
        }

    def extra_report(self) -> dict[str, object]:
        """Pattern-specific figures; empty unless a pattern adds some."""
        return {}
