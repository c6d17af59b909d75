"""The mechanisms behind a hop's resilience settings.

Backoff with jitter and a retry budget decide whether and when a failed try is
tried again; a consecutive-failure breaker and concurrency limits decide
whether a try may start at all. :class:`simulator.engine.hop.Hop` strings them
together around each try; each is usable (and tested) on its own.
"""

import math
import random
from collections import deque

import simpy

from simulator.engine.balancing import Balancer
from simulator.engine.runtime import (
    ERROR_CAUSES,
    Process,
    RequestFailed,
    Runtime,
)
from simulator.engine.services import ContainerService, Service
from simulator.errors import SimulationError
from simulator.scenario.base import Backoff, CircuitBreaker, LinkBase, RetryBudget

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half-open"


class BackoffClock:
    """How long to wait before each retry of a call."""

    def __init__(self, settings: Backoff, rng: random.Random) -> None:
        self.base_s = settings.base
        self.max_s = settings.max_s
        self.multiplier = settings.multiplier
        self.jitter = settings.jitter == "full"
        self.random = rng.random

    def wait_s(self, retry: int) -> float:
        """Return the wait before retry number ``retry`` (1 for the first)."""
        ceiling = min(self.max_s, self.base_s * self.multiplier ** (retry - 1))
        return self.random() * ceiling if self.jitter else ceiling


class RetryBudgetWindow:
    """Counts calls and retries over a sliding window to cap retries.

    Both counts keep the start times inside the window, so the memory is
    bounded by the traffic of one window.
    """

    def __init__(self, settings: RetryBudget) -> None:
        self.window_s = settings.window
        self.ratio = settings.percent / 100.0
        self.floor = settings.min_retries_per_s * settings.window
        self.calls: deque[float] = deque()
        self.retries: deque[float] = deque()

    def call_started(self, now: float) -> None:
        """Count a new call (a first try)."""
        self.calls.append(now)

    def allow(self, now: float) -> bool:
        """Return whether a retry may start now; if so, count it."""
        horizon = now - self.window_s
        calls, retries = self.calls, self.retries
        while calls and calls[0] <= horizon:
            calls.popleft()
        while retries and retries[0] <= horizon:
            retries.popleft()

        if len(retries) + 1 > self.ratio * len(calls) + self.floor:
            return False
        retries.append(now)
        return True


class FailureBreaker:
    """A consecutive-failure circuit breaker: closed, open, half-open.

    It opens at the instant of the ``consecutive_failures``-th failure in a row,
    becomes half-open exactly ``open_for`` later, and closes at the instant the
    last of its ``half_open_requests`` trial tries succeeds. State changes are
    kept in :attr:`transitions` as ``(time, state)``.
    """

    def __init__(self, settings: CircuitBreaker, owner: str) -> None:
        assert settings.consecutive_failures is not None
        self.owner = owner
        self.threshold = settings.consecutive_failures
        self.open_for_s = settings.open_for
        self.trials = settings.half_open_requests
        self.trip_on = frozenset(settings.trip_on)
        self.state = CLOSED
        self.failures = 0
        self.open_until_s = 0.0
        self.trials_running = 0
        self.trials_passed = 0
        self.opened = 0
        self.transitions: list[tuple[float, str]] = []

    def _move(self, now: float, state: str) -> None:
        self.state = state
        self.transitions.append((now, state))

    def admit(self, now: float) -> bool:
        """Let a try start or fail it fast; return whether it is a trial.

        Raises:
            RequestFailed: Cause ``circuit_open``: the breaker is open, or
                half-open with all its trials under way.
        """
        if self.state == CLOSED:
            return False

        # An open breaker turns half-open at its exact instant, however late
        # the next try comes.
        if self.state == OPEN:
            if now < self.open_until_s:
                raise RequestFailed("circuit_open", self.owner)
            self._move(self.open_until_s, HALF_OPEN)
            self.trials_running = 0
            self.trials_passed = 0

        if self.trials_running + self.trials_passed >= self.trials:
            raise RequestFailed("circuit_open", self.owner)
        self.trials_running += 1
        return True

    def record(self, trial: bool, cause: str | None, now: float) -> None:
        """Take a finished try's outcome: ``cause`` None for a success."""
        if trial:
            self.trials_running -= 1
        failed = cause is not None and cause in self.trip_on
        if cause is not None and not failed:
            return

        if self.state == HALF_OPEN:
            # Only trials decide; late outcomes of tries started before the
            # breaker opened are ignored.
            if not trial:
                return
            if failed:
                self._open(now)
                return
            self.trials_passed += 1
            if self.trials_passed >= self.trials:
                self.failures = 0
                self._move(now, CLOSED)
        elif self.state == CLOSED:
            if not failed:
                self.failures = 0
                return
            self.failures += 1
            if self.failures >= self.threshold:
                self._open(now)

    def abandon(self, trial: bool) -> None:
        """Forget a try that ended without an outcome (its caller was cancelled)."""
        if trial:
            self.trials_running -= 1

    def _open(self, now: float) -> None:
        self.open_until_s = now + self.open_for_s
        self.failures = 0
        self.opened += 1
        self._move(now, OPEN)


class ConcurrencyLimit:
    """At most ``max_active`` tries in flight; ``max_pending`` more may wait.

    A try beyond both fails fast with cause ``circuit_open``. A waiting try
    that reaches its deadline leaves the queue and fails with ``timeout``.
    """

    def __init__(
        self, env: simpy.Environment, max_active: int, max_pending: int, owner: str
    ) -> None:
        self.env = env
        self.max_active = max_active
        self.max_pending = max_pending
        self.owner = owner
        self.active = 0
        self.waiting: deque[simpy.Event] = deque()
        self.overflows = 0

    def acquire(self, deadline_s: float, measured: bool) -> Process:
        """Take an active slot, waiting for one until ``deadline_s`` if allowed.

        Raises:
            RequestFailed: ``circuit_open`` when both limits are full,
                ``timeout`` when the deadline passes while waiting.
        """
        if self.active < self.max_active:
            self.active += 1
            return
        if len(self.waiting) >= self.max_pending:
            if measured:
                self.overflows += 1
            raise RequestFailed("circuit_open", self.owner)

        env = self.env
        turn = env.event()
        self.waiting.append(turn)
        try:
            if deadline_s == math.inf:
                yield turn
            else:
                yield turn | env.timeout(max(0.0, deadline_s - env.now))
        except simpy.Interrupt:
            self._leave(turn)
            raise
        if not turn.triggered:
            self.waiting.remove(turn)
            raise RequestFailed("timeout", self.owner)

    def _leave(self, turn: simpy.Event) -> None:
        # A slot handed over at this very instant must be handed on.
        if turn.triggered:
            self.release()
        else:
            self.waiting.remove(turn)

    def release(self) -> None:
        """Give a slot back: to the longest waiting try, or free it."""
        if self.waiting:
            self.waiting.popleft().succeed()
        else:
            self.active -= 1


class Resilience:
    """A hop's resilience settings, built into their mechanisms.

    It also counts what they did for the measured requests: tries, retries,
    retries the budget refused, tries cancelled, and tries failed by cause.
    """

    def __init__(self, config: LinkBase, runtime: Runtime, owner: str) -> None:
        self.owner = owner
        self.runtime = runtime
        self.timeout_s = config.timeout if config.timeout is not None else math.inf
        self.overall_s = (
            config.overall_timeout if config.overall_timeout is not None else math.inf
        )
        self.cancel = config.cancel_on_timeout

        retries = config.retries
        self.max_attempts = retries.attempts if retries is not None else 1
        self.retry_on = frozenset(retries.retry_on if retries is not None else ())
        self.backoff = (
            BackoffClock(retries.backoff, runtime.streams.get(f"link/{owner}/backoff"))
            if retries is not None
            else None
        )
        self.budget = (
            RetryBudgetWindow(retries.budget)
            if retries is not None and retries.budget is not None
            else None
        )

        breaker = config.circuit_breaker
        self.breaker = (
            FailureBreaker(breaker, owner)
            if breaker is not None and breaker.consecutive_failures is not None
            else None
        )
        self.limit = (
            ConcurrencyLimit(
                runtime.env, breaker.max_active, breaker.max_pending, owner
            )
            if breaker is not None and breaker.max_active is not None
            else None
        )

        self.balancing = config.load_balancing
        self.balancers: dict[str, Balancer] = {}

        self.attempts = 0
        self.retries = 0
        self.budget_denied = 0
        self.cancelled = 0
        self.try_errors = dict.fromkeys(ERROR_CAUSES, 0)

    def balancer_for(self, target: Service) -> tuple[Balancer, ContainerService]:
        """Return this link's own balancer over the replicas of ``target``."""
        if not isinstance(target, ContainerService) or self.balancing is None:
            raise SimulationError(
                f"link {self.owner!r} balances across replicas, which only a "
                f"container service with per-replica queues has ({target.name!r})"
            )
        balancer = self.balancers.get(target.name)
        if balancer is None:
            rng = self.runtime.streams.get(f"link/{self.owner}/balancer/{target.name}")
            balancer = Balancer(self.balancing, len(target.pools), rng)
            self.balancers[target.name] = balancer
        return balancer, target

    def report(self) -> dict[str, object]:
        """Return what the mechanisms did, for the link's figures."""
        figures: dict[str, object] = {
            "retries": self.retries,
            "retries_denied_by_budget": self.budget_denied,
            "cancelled": self.cancelled,
            "try_errors": {cause: n for cause, n in self.try_errors.items() if n},
        }
        if self.breaker is not None:
            figures["circuit_opened"] = self.breaker.opened
        if self.limit is not None:
            figures["circuit_overflows"] = self.limit.overflows
        if self.balancers:
            figures["balancing"] = {
                name: balancer.report() for name, balancer in self.balancers.items()
            }
        return figures
