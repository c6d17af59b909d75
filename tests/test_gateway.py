"""API gateway: the response cache, its hourly price, and 429s.

Cache hits are drawn per request, so their count is checked against the
binomial distribution (four standard deviations); what a hit does (skip the
backend, answer after the overhead) is checked exactly.
"""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tiny import EXACT, build, simulate, watch

from simulator.errors import ScenarioError
from simulator.patterns.api_gateway import TokenBucket
from simulator.pricing.monthly import price_replication

CACHED = """
services:
  app: {{kind: container, concurrency: 100, work: 50ms}}
links:
  api:
    pattern: api-gateway
    flavour: {flavour}
    overhead: 10ms
    throttle: null
    cache: {{hit_ratio: {hit_ratio}, size: {size}}}
    network: {{latency: 1ms}}
entrypoint:
  - {{call: app, via: api}}
"""


def cached(hit_ratio: float = 0.3, size: str = "0.5GB", flavour: str = "rest") -> str:
    return CACHED.format(hit_ratio=hit_ratio, size=size, flavour=flavour)


def test_cache_hits_follow_the_hit_ratio_and_skip_the_backend() -> None:
    # About 3000 requests, 30 % hits. A hit is answered after the legs and the
    # overhead (12 ms); a miss also pays the backend's 50 ms.
    run = build(cached(), rate="100/s", duration="30s", arrivals="poisson")
    visits = watch(run, "app")
    outcomes, result = simulate(run)

    n = result.arrived
    cache = result.hops["api"]["cache"]
    hits, misses = cache["hits"], cache["misses"]
    assert hits + misses == n
    assert abs(hits - 0.3 * n) <= 4 * math.sqrt(n * 0.3 * 0.7)

    assert len(visits) == misses
    latencies = sorted(round(o.latency_s, 9) for o in outcomes)
    assert latencies == [0.012] * hits + [0.062] * misses


def test_responses_above_one_mebibyte_are_never_cached() -> None:
    run = build(cached(hit_ratio=1.0), response_size="1.1MB", duration="3.5s")
    visits = watch(run, "app")
    _, result = simulate(run)

    assert result.hops["api"]["cache"]["hits"] == 0
    assert len(visits) == 3


def test_cache_is_billed_by_the_hour_of_its_size() -> None:
    # A 0.5 GB cache costs $0.02 an hour (IC): 730 hours a month, $14.60,
    # whatever the traffic.
    run = build(cached(), rate="10/s", duration="30s")
    _, result = simulate(run)
    assert result.meters[("api", "apigw.cache.0.5gb-hours")] == (
        pytest.approx(30 / 3600, abs=EXACT),
        "time",
    )

    breakdown = price_replication(result, run.scenario)
    line = next(x for x in breakdown.lines if x.meter == "apigw.cache.0.5gb-hours")
    assert line.quantity == pytest.approx(730.0)
    assert line.usd == pytest.approx(14.60)
    assert line.unit == "hour"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (cached(flavour="http"), "only REST APIs have a response cache"),
        (cached(size="2GB"), "0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118, 237 GB"),
    ],
)
def test_cache_settings_are_checked(body: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        build(body)


def test_a_cache_size_without_a_catalog_price_needs_an_override() -> None:
    with pytest.raises(ScenarioError, match="apigw.cache.1.6gb-hours"):
        build(cached(size="1.6GB"))


def test_429s_are_counted_as_throttled_and_never_timed() -> None:
    # 50 requests a second against 10/s with a burst of 5: most get a 429.
    # Only admitted requests are latency samples, at the gateway and end to
    # end, and each is 2 ms of legs, 10 ms of overhead and 50 ms of work.
    run = build(
        """
        services:
          app: {kind: container, concurrency: 100, work: 50ms}
        links:
          api:
            pattern: api-gateway
            overhead: 10ms
            throttle: {rate: 10/s, burst: 5}
            network: {latency: 1ms}
        entrypoint:
          - {call: app, via: api}
        """,
        rate="50/s",
        duration="4.01s",
    )
    outcomes, result = simulate(run)

    throttled = [o for o in outcomes if o.cause == "throttled"]
    admitted = [o for o in outcomes if o.cause is None]
    assert len(throttled) == result.errors["throttled"] > 0
    assert len(admitted) + len(throttled) == len(outcomes) == result.arrived
    assert result.latency.count == len(admitted) == result.succeeded
    assert result.hops["api"]["throttled"] == len(throttled)
    hop = run.hops["api"]
    assert hop.latency.count == len(admitted)
    assert result.latency.max_s == pytest.approx(0.062, abs=EXACT)
    assert result.latency.min_s == pytest.approx(0.062, abs=EXACT)


@given(
    st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=1, max_size=60),
    st.floats(min_value=0.5, max_value=20.0),
    st.integers(min_value=1, max_value=10),
)
def test_token_bucket_never_admits_more_than_burst_plus_rate_times_t(
    times: list[float], rate: float, burst: int
) -> None:
    # Whatever the arrival instants, any span [a, b] holds at most
    # burst + rate x (b - a) admissions.
    bucket = TokenBucket(rate_per_s=rate, burst=burst)
    admitted = [t for t in sorted(times) if bucket.take(t)]

    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            span = admitted[j] - start
            assert j - i + 1 <= burst + rate * span + 1e-9


def test_token_bucket_admits_exactly_burst_plus_rate_times_t() -> None:
    # A request every 1/1024 s for 2 s against 128 tokens a second (1/8 of a
    # token per arrival, exact in binary) and a burst of 20: by the arrival at
    # m/1024 s the bucket has admitted 20 + floor(m / 8).
    bucket = TokenBucket(rate_per_s=128.0, burst=20)
    admitted = 0
    for m in range(2048):
        admitted += bucket.take(m / 1024)
        assert admitted == min(m + 1, 20 + m // 8), m
