"""Per-request draws: common random numbers that follow the request.

A sequential stream gives its i-th number to the i-th request that happens to
draw from it. Two topologies that route, drop, retry or reorder requests
differently then hand the same request different work, and their comparison
is noisier than it needs to be. A *request draw* depends only on the scenario
seed, the replication, the stream's name, the request's arrival index and how
many times that request has drawn from that stream before (its visit). Request
17's first piece of work at ``service/orders/step0`` is therefore the same
number in every topology that has that step, whatever happened before.

A request's first draw from a stream (by far the most common) comes from a
*block*: the uniforms of 1,024 consecutive arrival indexes, made at once by a
Mersenne Twister seeded with the stream seed and the block's number, and kept
while requests of that block are about (at most 64 blocks a stream, so memory
stays bounded; an evicted block is made again, identically, if needed). That
costs about 0.1 us a draw. Further visits (retries, feedback loops) use
SplitMix64 (Steele, Lea and Flood 2014, the generator of Java's
``SplittableRandom``): position ``n`` of a stream with 64-bit seed ``S`` is
``mix64(S + n * golden_gamma)``, a bijective finaliser applied to a Weyl
sequence that passes BigCrush, at position ``arrival_index * 256 + visit``;
visits from the 256th on move to a sibling sequence, so no two draws of one
stream share a position.

Only the work of steps and the error draws of services use request draws;
everything else keeps its sequential stream.
"""

import math
import random
from collections.abc import Callable
from statistics import NormalDist

from simulator.engine.runtime import Request
from simulator.scenario.base import (
    Constant,
    DistributionConfig,
    Empirical,
    Exponential,
    Lognormal,
    Uniform,
)

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_SIBLING = 0xD1B54A32D192ED03
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_VISITS_PER_POSITION = 256
_TO_UNIT = 2.0**-52
_BLOCK_BITS = 10
_BLOCK_MASK = (1 << _BLOCK_BITS) - 1
_BLOCKS_KEPT = 64
_TO_UNIT_53 = 2.0**-53

RequestUniform = Callable[[Request], float]
"""Returns the next uniform number in (0, 1) of one stream for a request."""

RequestSampler = Callable[[Request], float]
"""Returns the next duration, in seconds, of one stream for a request."""


def _block(stream_seed: int, number: int) -> list[float]:
    # The first-visit uniforms of arrival indexes number * 1024 onwards, each
    # strictly inside (0, 1) so that inversion never meets log(0).
    rng = random.Random((stream_seed << 64) | number)
    bits = rng.getrandbits
    return [(bits(53) + 0.5) * _TO_UNIT_53 for _ in range(_BLOCK_MASK + 1)]


def _later_visit(stream_seed: int, request_id: int, visit: int) -> float:
    z = stream_seed + (visit // _VISITS_PER_POSITION) * _SIBLING
    position = request_id * _VISITS_PER_POSITION + visit % _VISITS_PER_POSITION
    z = (z + position * _GAMMA) & _MASK
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK
    z ^= z >> 31
    return ((z >> 12) + 0.5) * _TO_UNIT


def request_uniform(stream_seed: int, request_id: int, visit: int) -> float:
    """Return the uniform number in (0, 1) of one request draw.

    This is the definition the fast path of :func:`uniform_for_requests`
    follows; it makes a whole block for a first visit, so it is slow.

    Args:
        stream_seed: The 64-bit seed of the stream (``streams.stream_seed``).
        request_id: The request's arrival index.
        visit: How many draws the request made from this stream before.
    """
    if visit == 0:
        block = _block(stream_seed, request_id >> _BLOCK_BITS)
        return block[request_id & _BLOCK_MASK]
    return _later_visit(stream_seed, request_id, visit)


def uniform_for_requests(stream_seed: int) -> RequestUniform:
    """Return a function drawing this stream's next uniform for a request.

    The visit count lives in ``request.draws`` (keyed by the stream seed), a
    dict that copies of a request share, so a retry or a second pass through
    the same step draws a fresh number.
    """
    seed = stream_seed
    blocks: dict[int, list[float]] = {}

    def uniform(request: Request) -> float:
        draws = request.draws
        visit = draws.get(seed, 0)
        draws[seed] = visit + 1
        if visit:
            return _later_visit(seed, request.id, visit)

        # The common case: a first visit, served from a block of uniforms.
        request_id = request.id
        number = request_id >> _BLOCK_BITS
        block = blocks.get(number)
        if block is None:
            if len(blocks) >= _BLOCKS_KEPT:
                del blocks[next(iter(blocks))]
            block = blocks[number] = _block(seed, number)
        return block[request_id & _BLOCK_MASK]

    return uniform


def make_request_sampler(
    config: DistributionConfig, stream_seed: int
) -> RequestSampler:
    """Return a sampler of ``config`` whose draws follow the request.

    Each distribution is drawn by inversion of one uniform number, so the
    same request gets the same quantile of its distribution in every
    topology; a constant draws nothing.
    """
    if isinstance(config, Constant):
        value = config.value
        return lambda request: value

    uniform = uniform_for_requests(stream_seed)
    log = math.log

    if isinstance(config, Exponential):
        mean = config.mean
        return lambda request: -mean * log(uniform(request))

    if isinstance(config, Uniform):
        low, spread = config.low, config.high - config.low
        return lambda request: low + spread * uniform(request)

    if isinstance(config, Lognormal):
        mu, sigma = config.mu_sigma()
        inverse = NormalDist(mu, sigma).inv_cdf
        exp = math.exp
        return lambda request: exp(inverse(uniform(request)))

    if isinstance(config, Empirical):
        values = list(config.values)
        last = len(values) - 1
        return lambda request: values[min(int(uniform(request) * (last + 1)), last)]

    raise TypeError(f"unknown distribution {config!r}")
