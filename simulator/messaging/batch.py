"""A consumer's steps run over a batch of messages in one invocation.

A Lambda function reading a queue or a log gets a batch per invocation and
loops over it; a log consumer's member works through a fetched batch the same
way. The batch is handed to the service as one request (a :class:`Batch`), so
the service's capacity, billing and error draw apply once per batch, while the
service's steps run once per message, each with the message's own delivery.
Each message is done when its own steps end.

Replayed history has no requests behind it: a batch of history events counts
them instead of carrying them. When a service's steps are all compute steps,
the work of such a batch is drawn as one sum: in closed form for constant and
exponential work (a gamma of shape n), otherwise a draw per event and step, or
for 50 events and more a normal draw with the sum's exact mean and variance
(the central limit theorem; an approximation, close for sums this long). So
replaying millions of events costs one simulated event per batch.
"""

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulator.engine.distributions import make_sampler
from simulator.engine.runtime import Process, Request
from simulator.engine.services import Service, Step
from simulator.messaging.flows import Delivery
from simulator.scenario.base import (
    Constant,
    DistributionConfig,
    Empirical,
    Exponential,
    Lognormal,
    Uniform,
)
from simulator.scenario.model import ComputeStep

HistoryWork = Callable[[int], float]
"""Returns the total work, in seconds, of a number of history events."""


@dataclass(slots=True)
class Batch(Request):
    """Several messages handed to a consumer at once.

    Attributes:
        items: The deliveries, in order.
        history_events: Replayed history events (no requests behind them).
        done_s: When each item's steps ended, filled while the batch runs.
    """

    items: list[Delivery] = field(default_factory=list)
    history_events: int = 0
    done_s: list[float] = field(default_factory=list)


def batch_of(items: list[Delivery]) -> Batch:
    """Return a batch of deliveries; it draws like its first item's request."""
    first = items[0]
    return Batch(
        id=first.id,
        start_s=first.start_s,
        measured=first.measured,
        draws=first.draws,
        items=items,
    )


NORMAL_SUM_FROM = 50
"""Sums of at least this many draws without a closed form are drawn from the
normal approximation (central limit theorem), with the exact mean and variance."""


def _moments(config: DistributionConfig) -> tuple[float, float]:
    # The exact mean and variance of one draw.
    if isinstance(config, Uniform):
        return (config.low + config.high) / 2, (config.high - config.low) ** 2 / 12
    if isinstance(config, Lognormal):
        mu, sigma = config.mu_sigma()
        mean = math.exp(mu + sigma**2 / 2)
        return mean, (math.exp(sigma**2) - 1) * mean**2
    assert isinstance(config, Empirical)
    values = config.values
    mean = math.fsum(values) / len(values)
    return mean, math.fsum((v - mean) ** 2 for v in values) / len(values)


def _summed(config: DistributionConfig, rng: random.Random) -> HistoryWork:
    # The sum of n draws: exact in closed form for a constant (n x value) and
    # an exponential (a gamma of shape n); otherwise n draws added up, or for
    # large n a normal draw with the sum's exact mean and variance.
    if isinstance(config, Constant):
        value = config.value
        return lambda events: events * value
    if isinstance(config, Exponential):
        mean = config.mean
        gamma = rng.gammavariate
        return lambda events: gamma(events, mean) if mean > 0 else 0.0

    sample = make_sampler(config, rng)
    mean, variance = _moments(config)
    sd = math.sqrt(variance)
    gauss = rng.gauss

    def total(events: int) -> float:
        if events < NORMAL_SUM_FROM:
            return sum(sample() for _ in range(events))
        return max(0.0, gauss(events * mean, sd * math.sqrt(events)))

    return total


def history_work(steps: Sequence[Any], rng: random.Random) -> HistoryWork | None:
    """Return a sampler of the summed work of history events, if it can be summed.

    Only steps that are all compute steps can be summed; any other step (a
    call, a send) must run per event, and None says so.
    """
    if not steps or not all(isinstance(step, ComputeStep) for step in steps):
        return None
    summed = [_summed(step.compute, rng) for step in steps]

    def total(events: int) -> float:
        return sum(part(events) for part in summed)

    return total


def run_batches(service: Service, summed: HistoryWork | None) -> None:
    """Make ``service`` run its steps per item when handed a :class:`Batch`.

    Any other request runs the steps once, as before. A container service's
    pools that run their own copy of the steps (slowed by a fault) are
    wrapped too.
    """
    env = service.env

    def wrap(steps: Sequence[Step]) -> list[Step]:
        original = list(steps)

        def run(request: Request) -> Process:
            if not isinstance(request, Batch):
                for step in original:
                    yield from step(request)
                return

            # History first: summed when the steps allow, else event by event.
            if request.history_events:
                if summed is not None:
                    yield env.timeout(summed(request.history_events))
                else:
                    for _ in range(request.history_events):
                        for step in original:
                            yield from step(request)

            request.done_s.clear()
            for item in request.items:
                for step in original:
                    yield from step(item)
                request.done_s.append(env.now)

        return [run]

    service.steps = wrap(service.steps)
    for pool in getattr(service, "pools", ()):
        if getattr(pool, "steps", None):
            pool.steps = wrap(pool.steps)
