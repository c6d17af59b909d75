"""Samplers: a distribution from a scenario turned into a fast callable."""

import random
from collections.abc import Callable

from simulator.scenario.base import (
    Constant,
    DistributionConfig,
    Empirical,
    Exponential,
    Lognormal,
    Uniform,
)

Sampler = Callable[[], float]


def make_sampler(config: DistributionConfig, rng: random.Random) -> Sampler:
    """Return a function that draws one duration, in seconds, per call.

    Args:
        config: The distribution as written in the scenario.
        rng: The stream to draw from; a constant draws nothing.
    """
    if isinstance(config, Constant):
        value = config.value
        return lambda: value

    if isinstance(config, Exponential):
        if config.mean == 0:
            return lambda: 0.0
        rate = 1.0 / config.mean
        expovariate = rng.expovariate
        return lambda: expovariate(rate)

    if isinstance(config, Uniform):
        low, high = config.low, config.high
        uniform = rng.uniform
        return lambda: uniform(low, high)

    if isinstance(config, Lognormal):
        mu, sigma = config.mu_sigma()
        lognormvariate = rng.lognormvariate
        return lambda: lognormvariate(mu, sigma)

    if isinstance(config, Empirical):
        values = list(config.values)
        choice = rng.choice
        return lambda: choice(values)

    raise TypeError(f"unknown distribution {config!r}")


def is_zero(config: DistributionConfig) -> bool:
    """Return True when the distribution always gives zero (nothing to wait)."""
    return isinstance(config, Constant) and config.value == 0
