"""Exact event order and exact values on tiny deterministic topologies.

Arrivals are constant and work is constant, so every time below is worked out
by hand from the rules of the model (written next to each test). Times are
compared to 1e-9 s: only floating-point rounding is tolerated, not a model
difference. Windows are chosen so no event falls on a boundary by rounding.
"""

import pytest
import tiny
from helpers import Outcome
from tiny import simulate

from simulator.engine.simulation import TopologyRun
from simulator.patterns.api_gateway import TokenBucket

EXACT = 1e-9


def build(
    body: str,
    *,
    rate: str = "10/s",
    duration: str = "1.05s",
    warmup: str = "0s",
    drain: str = "60s",
    arrivals: str = "constant",
    request_size: str = "1000B",
    response_size: str = "1000B",
) -> TopologyRun:
    """Build topology ``t`` with this file's defaults (10 a second, seed 11)."""
    return tiny.build(
        body,
        rate=rate,
        duration=duration,
        warmup=warmup,
        drain=drain,
        arrivals=arrivals,
        request_size=request_size,
        response_size=response_size,
        seed=11,
    )


def latencies(outcomes: list[Outcome]) -> list[float]:
    return [o.latency_s for o in outcomes]


def approx(values: object) -> object:
    return pytest.approx(values, abs=EXACT)


def overlap(start: float, end: float, window: tuple[float, float]) -> float:
    """Length of [start, end] inside the window."""
    return max(0.0, min(end, window[1]) - max(start, window[0]))


# Containers and queueing


def test_constant_service_without_contention() -> None:
    # Arrivals at 0.1, 0.2, ..., 1.0; each is served at once for 50 ms.
    run = build(
        """
        services:
          app: {kind: container, work: 50ms}
        entrypoint:
          - {call: app}
        """
    )
    outcomes, result = simulate(run)

    assert [o.id for o in outcomes] == list(range(1, 11))
    assert [o.start_s for o in outcomes] == approx([0.1 * k for k in range(1, 11)])
    assert latencies(outcomes) == approx([0.05] * 10)
    assert result.arrived == result.succeeded == result.completed_in_window == 10
    assert result.in_flight == 0
    assert result.latency.min_s == approx(0.05)
    assert result.latency.max_s == approx(0.05)
    assert result.services["app"]["utilisation"] == approx(10 * 0.05 / 1.05)
    assert result.services["app"]["queue_length_mean"] == 0


def test_one_worker_queues_requests_in_arrival_order() -> None:
    # 10/s against 150 ms of work on one worker: request k (from 1) starts
    # when k-1 ends, at 0.15 k - 0.05, so each waits 50 ms more than the last.
    run = build(
        """
        services:
          app: {kind: container, concurrency: 1, work: 150ms}
        entrypoint:
          - {call: app}
        """
    )
    outcomes, result = simulate(run)

    assert latencies(outcomes) == approx([0.15 + 0.05 * k for k in range(10)])
    ends = [o.end_s for o in outcomes]
    assert ends == approx([0.25 + 0.15 * k for k in range(10)])
    assert ends == sorted(ends)

    # Time-weighted over the window [0, 1.05] only, even though the last
    # request finishes at 1.6, during the drain.
    window = (0.0, 1.05)
    busy = overlap(0.1, 1.6, window)
    waiting = sum(overlap(0.1 * k, 0.15 * k - 0.05, window) for k in range(1, 11))
    app = result.services["app"]
    assert app["utilisation"] == approx(busy / 1.05)
    assert app["utilisation"] <= 1.0
    assert app["queue_length_mean"] == approx(waiting / 1.05)
    assert result.completed_in_window == 6
    assert result.succeeded == 10


def test_replicas_times_concurrency_workers_share_one_queue() -> None:
    # 2 replicas x 2 workers = 4 at once: 10/s with 350 ms of work never waits
    # (at most 4 requests overlap), but with 3 workers the 4th waits 50 ms.
    four = build(
        """
        services:
          app: {kind: container, replicas: 2, concurrency: 2, work: 350ms}
        entrypoint:
          - {call: app}
        """
    )
    outcomes, result = simulate(four)
    assert latencies(outcomes) == approx([0.35] * 10)
    assert result.services["app"]["workers"] == 4

    three = build(
        """
        services:
          app: {kind: container, replicas: 1, concurrency: 3, work: 350ms}
        entrypoint:
          - {call: app}
        """
    )
    outcomes, _ = simulate(three)
    assert latencies(outcomes)[:4] == approx([0.35, 0.35, 0.35, 0.4])


# Synchronous calls


def test_synchronous_call_holds_the_callers_worker() -> None:
    # front works 10 ms, calls back (100 ms) and waits, works 10 ms more.
    # Arrivals at 0.2, 0.4, ..., 1.0 never overlap: latency 120 ms each, and
    # front's one worker is busy for all 120 ms, back's time included.
    run = build(
        """
        services:
          front:
            kind: container
            concurrency: 1
            steps:
              - {compute: 10ms}
              - {call: back}
              - {compute: 10ms}
          back: {kind: container, concurrency: 4, work: 100ms}
        entrypoint:
          - {call: front}
        """,
        rate="5/s",
        duration="1.15s",
    )
    outcomes, result = simulate(run)

    assert latencies(outcomes) == approx([0.12] * 5)
    assert result.services["front"]["utilisation"] == approx(5 * 0.12 / 1.15)
    assert result.services["back"]["utilisation"] == approx(5 * 0.1 / 1.15 / 4)
    assert result.services["back"]["served"] == 5


def test_slow_downstream_exhausts_the_upstream_pool() -> None:
    # back has 10 workers but front has one, held 300 ms per request while it
    # waits for back: arrivals every 200 ms queue at front, +100 ms each.
    run = build(
        """
        services:
          front: {kind: container, concurrency: 1, steps: [{call: back}]}
          back: {kind: container, concurrency: 10, work: 300ms}
        entrypoint:
          - {call: front}
        """,
        rate="5/s",
        duration="1.15s",
    )
    outcomes, result = simulate(run)

    assert latencies(outcomes) == approx([0.3 + 0.1 * k for k in range(5)])
    assert result.services["back"]["queue_length_mean"] == 0
    assert result.services["front"]["queue_length_mean"] > 0


def test_parallel_fan_out_joins_on_the_slowest_branch() -> None:
    run = build(
        """
        services:
          a: {kind: container, concurrency: 5, work: 30ms}
          b: {kind: container, concurrency: 5, work: 80ms}
          c: {kind: container, concurrency: 5, work: 50ms}
        entrypoint:
          - parallel:
              - {call: a}
              - {call: b}
              - {call: c}
          - {compute: 5ms}
        """,
        rate="2/s",
        duration="1.2s",
    )
    outcomes, result = simulate(run)

    assert latencies(outcomes) == approx([0.085, 0.085])
    assert all(result.services[s]["served"] == 2 for s in "abc")


def test_a_failed_branch_fails_the_request_after_the_join() -> None:
    # a fails after its 30 ms, but the join still waits for b's 80 ms.
    run = build(
        """
        services:
          a: {kind: container, concurrency: 5, work: 30ms, error_rate: 1}
          b: {kind: container, concurrency: 5, work: 80ms}
        entrypoint:
          - parallel:
              - {call: a}
              - {call: b}
        """,
        rate="2/s",
        duration="1.2s",
    )
    outcomes, result = simulate(run)

    assert [o.cause for o in outcomes] == ["failed", "failed"]
    assert latencies(outcomes) == approx([0.08, 0.08])
    assert result.errors["failed"] == 2
    assert result.succeeded == 0
    assert result.services["b"]["served"] == 2


def test_nested_fan_out_inside_a_service() -> None:
    # front: 10 ms, then (b, then c) in parallel with a, then done.
    run = build(
        """
        services:
          front:
            kind: container
            concurrency: 5
            steps:
              - {compute: 10ms}
              - parallel:
                  - {call: a}
                  - parallel: [{call: b}, {call: c}]
          a: {kind: container, concurrency: 5, work: 70ms}
          b: {kind: container, concurrency: 5, work: 20ms}
          c: {kind: container, concurrency: 5, work: 60ms}
        entrypoint:
          - {call: front}
        """,
        rate="2/s",
        duration="1.2s",
    )
    outcomes, _ = simulate(run)
    assert latencies(outcomes) == approx([0.08, 0.08])


# Network legs


NETWORK_BODY = """
services:
  app: {{kind: container, concurrency: 5, work: 100ms}}
links:
  net:
    pattern: network
    network: {{latency: 5ms, bandwidth: 1MB/s, zone: {zone}}}
entrypoint:
  - {{call: app, via: net{sizes}}}
"""


def test_each_leg_pays_latency_and_payload_time() -> None:
    # Request leg: 5 ms + 2,000 B at 1 MB/s = 7 ms; response leg: 5 ms +
    # 10,000 B = 15 ms; plus 100 ms of work.
    run = build(
        NETWORK_BODY.format(zone="same-az", sizes=""),
        rate="2/s",
        duration="1.2s",
        request_size="2KB",
        response_size="10KB",
    )
    outcomes, result = simulate(run)

    assert latencies(outcomes) == approx([0.122, 0.122])
    assert result.hops["net"]["calls"] == 2
    assert result.hops["net"]["latency_s"]["max"] == approx(0.122)
    assert not any(meter.startswith("transfer.") for _, meter in result.meters)


def test_a_call_may_set_its_own_payload_sizes() -> None:
    run = build(
        NETWORK_BODY.format(
            zone="same-az", sizes=", request_size: 4KiB, response_size: 0B"
        ),
        rate="2/s",
        duration="1.2s",
    )
    outcomes, _ = simulate(run)
    assert latencies(outcomes) == approx([0.005 + 0.004096 + 0.1 + 0.005] * 2)


@pytest.mark.parametrize(
    ("zone", "meter", "bytes_per_call"),
    [
        # Cross-AZ bytes are billed out of one zone and into the other.
        ("cross-az", "transfer.cross-az", 2 * (2000 + 10_000)),
        ("cross-region", "transfer.inter-region", 2000 + 10_000),
        # Only the response leaves AWS for the internet.
        ("internet", "transfer.internet-out", 10_000),
    ],
)
def test_transfer_meters_follow_the_zone(
    zone: str, meter: str, bytes_per_call: int
) -> None:
    run = build(
        NETWORK_BODY.format(zone=zone, sizes=""),
        rate="2/s",
        duration="1.2s",
        request_size="2KB",
        response_size="10KB",
    )
    _, result = simulate(run)
    quantity, scaling = result.meters[("net", meter)]
    assert quantity == 2 * bytes_per_call
    assert scaling == "request"
    assert [m for _, m in result.meters if m.startswith("transfer.")] == [meter]


# Lambda


LAMBDA_BODY = """
services:
  fn:
    kind: lambda
    memory_mb: {memory_mb}
    architecture: {architecture}
    work: {work}
    cold_start: {cold_start}
    keep_alive: {keep_alive}
    concurrency_limit: {limit}
entrypoint:
  - {{call: fn}}
"""


def lambda_body(
    *,
    work: str = "100ms",
    cold_start: str = "200ms",
    keep_alive: str = "10min",
    limit: int = 1000,
    memory_mb: int = 1024,
    architecture: str = "x86",
) -> str:
    return LAMBDA_BODY.format(
        work=work,
        cold_start=cold_start,
        keep_alive=keep_alive,
        limit=limit,
        memory_mb=memory_mb,
        architecture=architecture,
    )


def test_cold_start_only_on_the_first_invocation() -> None:
    # Arrivals every 500 ms; the one instance is idle and warm for the rest.
    run = build(lambda_body(), rate="2/s", duration="2.25s")
    outcomes, result = simulate(run)

    assert latencies(outcomes) == approx([0.3, 0.1, 0.1, 0.1])
    fn = result.services["fn"]
    assert (fn["invocations"], fn["cold_starts"]) == (4, 1)
    assert fn["cold_start_rate"] == 0.25


def test_cold_start_when_concurrency_exceeds_warm_instances() -> None:
    # 10/s, 200 ms init + 250 ms work: requests 1-5 (0.1 to 0.5) find no idle
    # instance (the first is busy until 0.55); from 0.6 on, one is always idle.
    run = build(lambda_body(work="250ms"), rate="10/s")
    outcomes, result = simulate(run)

    assert latencies(outcomes) == approx([0.45] * 5 + [0.25] * 5)
    assert result.services["fn"]["cold_starts"] == 5
    assert result.services["fn"]["concurrency_peak"] == 5


@pytest.mark.parametrize(
    ("keep_alive", "cold_starts"),
    [
        # Each instance idles 2.2 s between arrivals (2.8 -> 5.0, ...).
        ("2s", 4),
        ("3s", 1),
    ],
)
def test_keep_alive_expiry_makes_a_new_cold_start(
    keep_alive: str, cold_starts: int
) -> None:
    run = build(lambda_body(keep_alive=keep_alive), rate="0.4/s", duration="10.5s")
    outcomes, result = simulate(run)

    expected = [0.3] * cold_starts + [0.1] * (4 - cold_starts)
    assert latencies(outcomes) == approx(expected)
    assert result.services["fn"]["cold_starts"] == cold_starts


def test_concurrency_limit_throttles() -> None:
    # Limit 2, 250 ms each, arrivals every 100 ms: the 3rd, 6th and 9th find
    # two invocations running and are throttled (429), unbilled.
    run = build(lambda_body(work="250ms", cold_start="0s", limit=2))
    outcomes, result = simulate(run)

    throttled = [o.id for o in outcomes if o.cause == "throttled"]
    assert throttled == [3, 6, 9]
    assert all(o.latency_s == 0 for o in outcomes if o.cause == "throttled")
    assert result.errors["throttled"] == 3
    assert result.succeeded == 7
    fn = result.services["fn"]
    assert (fn["throttled"], fn["invocations"], fn["cold_starts"]) == (3, 7, 2)
    assert result.meters[("fn", "lambda.requests")][0] == 7


def test_billed_duration_rounds_up_to_the_ms_and_includes_init() -> None:
    # 1,024 MB is 1 GB. The cold invocation bills 50.3 + 100.2 = 150.5 ms as
    # 151 ms; the two warm ones bill 100.2 ms as 101 ms.
    run = build(
        lambda_body(work="100.2ms", cold_start="50.3ms"), rate="2/s", duration="1.6s"
    )
    _, result = simulate(run)

    assert result.meters[("fn", "lambda.requests")][0] == 3
    gb_seconds, _ = result.meters[("fn", "lambda.duration-x86")]
    assert gb_seconds == pytest.approx(0.151 + 2 * 0.101, abs=1e-12)


def test_a_whole_number_of_ms_is_not_rounded_up() -> None:
    # 512 MB on arm64: 0.5 GB x 0.1 s per warm call, 0.5 x 0.3 s for the cold.
    run = build(
        lambda_body(memory_mb=512, architecture="arm64"), rate="2/s", duration="2.25s"
    )
    _, result = simulate(run)

    gb_seconds, _ = result.meters[("fn", "lambda.duration-arm64")]
    assert gb_seconds == pytest.approx(0.5 * (0.3 + 3 * 0.1), abs=1e-12)
    assert ("fn", "lambda.duration-x86") not in result.meters


def test_lambda_invoke_hop_adds_overhead_and_network() -> None:
    run = build(
        """
        services:
          fn: {kind: lambda, memory_mb: 128, work: 100ms, cold_start: 200ms}
        links:
          invoke:
            pattern: lambda-invoke
            overhead: 4ms
            network: {latency: 1ms}
        entrypoint:
          - {call: fn, via: invoke}
        """,
        rate="2/s",
        duration="1.6s",
    )
    outcomes, _ = simulate(run)
    assert latencies(outcomes) == approx([0.306, 0.106, 0.106])


def test_lambda_invoke_rejects_payloads_over_the_limit() -> None:
    run = build(
        """
        services:
          fn: {kind: lambda, memory_mb: 128, work: 100ms, cold_start: 200ms}
        links:
          invoke: {pattern: lambda-invoke}
        entrypoint:
          - {call: fn, via: invoke, request_size: 7MB}
        """,
        rate="2/s",
        duration="1.2s",
    )
    outcomes, result = simulate(run)
    assert [o.cause for o in outcomes] == ["rejected", "rejected"]
    assert result.services["fn"]["invocations"] == 0


# API Gateway


def test_token_bucket_admits_burst_plus_rate_times_t() -> None:
    bucket = TokenBucket(rate_per_s=8.0, burst=5)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert [bucket.take(0.125), bucket.take(0.125)] == [True, False]

    # After a long idle spell the bucket holds the burst, not more.
    assert sum(bucket.take(100.0) for _ in range(10)) == 5


def test_gateway_throttle_admits_exactly_burst_plus_rate_times_t() -> None:
    # 64 requests a second against a bucket of 8/s with a burst of 5: the
    # first five use the burst, then one in eight gets the token that 1/8 s
    # brings. From the first arrival t1, [t1, t1 + m/8] admits 5 + m.
    run = build(
        """
        services:
          app: {kind: container, concurrency: 100, work: 1ms}
        links:
          api:
            pattern: api-gateway
            overhead: 0s
            throttle: {rate: 8/s, burst: 5}
        entrypoint:
          - {call: app, via: api}
        """,
        rate="64/s",
        duration="1.01s",
    )
    outcomes, result = simulate(run)

    first = outcomes[0].start_s
    admitted = [o for o in outcomes if o.cause is None]
    assert [o.id for o in admitted] == [1, 2, 3, 4, 5, 9, 17, 25, 33, 41, 49, 57]
    for m in range(1, 8):
        until = first + m / 8
        assert sum(o.start_s <= until for o in admitted) == 5 + m
    assert len(outcomes) == 64
    assert result.errors["throttled"] == 64 - 12
    assert result.hops["api"]["errors"] == {"throttled": 52}
    assert result.meters[("api", "apigw.rest.requests")][0] == 12


GATEWAY_TIMEOUT_BODY = """
services:
  app: {{kind: container, concurrency: 1, work: {work}}}
links:
  api:
    pattern: api-gateway
    overhead: 0s
    integration_timeout: 1s
entrypoint:
  - {{call: app, via: api}}
"""


def test_integration_timeout_fails_the_call_but_not_the_backend() -> None:
    # Arrivals at 4 s and 8 s; the backend takes 3 s. The gateway answers
    # 504 after 1 s, while the backend works on until 7 s (and from 8 s).
    run = build(GATEWAY_TIMEOUT_BODY.format(work="3s"), rate="0.25/s", duration="9s")
    outcomes, result = simulate(run)

    assert [o.cause for o in outcomes] == ["timeout", "timeout"]
    assert [o.end_s for o in outcomes] == approx([5.0, 9.0])
    assert result.errors["timeout"] == 2
    assert result.hops["api"]["errors"] == {"timeout": 2}
    app = result.services["app"]
    assert app["served"] == 1
    assert app["utilisation"] == approx((3.0 + 1.0) / 9.0)


def test_backend_within_the_integration_timeout_succeeds() -> None:
    run = build(GATEWAY_TIMEOUT_BODY.format(work="900ms"), rate="0.25/s", duration="9s")
    outcomes, result = simulate(run)
    assert latencies(outcomes) == approx([0.9, 0.9])
    assert result.errors["timeout"] == 0


def test_gateway_overhead_and_integration_latency_add_up() -> None:
    # 2 ms network each way, 10 ms gateway overhead, 3 ms to the backend and
    # 3 ms back, 50 ms of work.
    run = build(
        """
        services:
          app: {kind: container, concurrency: 5, work: 50ms}
        links:
          api:
            pattern: api-gateway
            overhead: 10ms
            integration_latency: 3ms
            network: {latency: 2ms}
        entrypoint:
          - {call: app, via: api}
        """,
        rate="2/s",
        duration="1.2s",
    )
    outcomes, _ = simulate(run)
    assert latencies(outcomes) == approx([0.07, 0.07])


@pytest.mark.parametrize(
    ("size", "billed"), [("100KB", 1), ("512KiB", 1), ("600KB", 2), ("2MB", 4)]
)
def test_http_api_bills_a_request_per_512_kib(size: str, billed: int) -> None:
    run = build(
        f"""
        services:
          app: {{kind: container, concurrency: 5, work: 1ms}}
        links:
          api: {{pattern: api-gateway, flavour: http, overhead: 0s}}
        entrypoint:
          - {{call: app, via: api, response_size: {size}}}
        """,
        rate="2/s",
        duration="1.2s",
    )
    _, result = simulate(run)
    assert result.meters[("api", "apigw.http.requests")][0] == 2 * billed


# Capacity limits and failures


@pytest.mark.parametrize(
    ("queue_limit", "rejected"), [(0, [2, 3, 4]), (1, [3, 4]), (2, [4]), (None, [])]
)
def test_queue_limit_rejects_beyond_the_waiting_room(
    queue_limit: int | None, rejected: list[int]
) -> None:
    # One worker busy 1 s from 0.25; arrivals at 0.5, 0.75 and 1.0 wait or
    # are rejected at once, in arrival order.
    limit = "" if queue_limit is None else f", queue_limit: {queue_limit}"
    run = build(
        f"""
        services:
          app: {{kind: container, concurrency: 1, work: 1s{limit}}}
        entrypoint:
          - {{call: app}}
        """,
        rate="4/s",
        duration="1.1s",
    )
    outcomes, result = simulate(run)

    assert [o.id for o in outcomes if o.cause == "rejected"] == rejected
    assert all(o.latency_s == 0 for o in outcomes if o.cause == "rejected")
    waited = [o.latency_s for o in outcomes if o.cause is None]
    assert waited == approx([1.0 + 0.75 * k for k in range(len(waited))])
    assert result.services["app"]["rejected"] == len(rejected)


def test_error_rate_fails_about_that_fraction() -> None:
    run = build(
        """
        services:
          app: {kind: container, concurrency: 50, work: 1ms, error_rate: 0.25}
        entrypoint:
          - {call: app}
        """,
        arrivals="poisson",
        rate="1000/s",
        duration="20s",
    )
    _, result = simulate(run)

    n = result.arrived
    failed = result.errors["failed"]
    assert n > 19_000
    assert failed + result.succeeded == n
    # Binomial: within 5 standard errors of n p.
    assert abs(failed - 0.25 * n) <= 5 * (n * 0.25 * 0.75) ** 0.5


def test_a_failing_service_fails_after_its_work() -> None:
    run = build(
        """
        services:
          app: {kind: container, work: 40ms, error_rate: 1}
        entrypoint:
          - {call: app}
        """,
        rate="2/s",
        duration="1.2s",
    )
    outcomes, result = simulate(run)
    assert [o.cause for o in outcomes] == ["failed", "failed"]
    assert latencies(outcomes) == approx([0.04, 0.04])
    assert result.latency.count == 0


# The measured window


def test_warm_up_is_excluded() -> None:
    # Arrivals every 125 ms; the window is [1 s, 2 s): the arrival at 1.0 is
    # measured, the one at 2.0 is not (no arrival at or after the end).
    # The instance's cold start happens in the warm-up, so none is measured.
    run = build(lambda_body(work="50ms"), rate="8/s", warmup="1s", duration="1s")
    outcomes, result = simulate(run)

    measured = [o for o in outcomes if o.measured]
    assert [o.start_s for o in measured] == [1 + k / 8 for k in range(8)]
    assert max(o.start_s for o in outcomes) == 1.875
    assert result.arrived == result.succeeded == 8
    assert result.latency.count == 8
    assert result.latency.max_s == approx(0.05)
    fn = result.services["fn"]
    assert (fn["invocations"], fn["cold_starts"]) == (8, 0)
    assert fn["concurrency_mean"] == approx(8 * 0.05 / 1.0)
    assert result.meters[("fn", "lambda.requests")][0] == 8
    gb_seconds = result.meters[("fn", "lambda.duration-x86")][0]
    assert gb_seconds == pytest.approx(8 * 0.05, abs=1e-12)


def test_throughput_counts_completions_inside_the_window() -> None:
    # Arrivals at 1, 2, 3 s with 1.5 s of work; window [2 s, 4 s). The
    # warm-up request completes at 2.5 s (counted), the one from 3 s at 4.5 s
    # (not counted), but all measured requests are waited for.
    run = build(
        """
        services:
          app: {kind: container, concurrency: 10, work: 1.5s}
        entrypoint:
          - {call: app}
        """,
        rate="1/s",
        warmup="2s",
        duration="2s",
    )
    outcomes, result = simulate(run)

    assert result.arrived == 2
    assert result.completed_in_window == 2
    assert result.succeeded == 2
    assert len(outcomes) == 3


@pytest.mark.parametrize(
    ("drain", "ends_at", "succeeded"),
    [("10s", 3.125, 3), ("1.5s", 2.0, 1), ("0s", 0.5, 0)],
)
def test_drain_waits_for_measured_requests_at_most_drain(
    drain: str, ends_at: float, succeeded: int
) -> None:
    # Arrivals at 0.125, 0.25, 0.375 (none at 0.5, the end); 1 s each on one
    # worker: done at 1.125, 2.125, 3.125.
    run = build(
        """
        services:
          app: {kind: container, concurrency: 1, work: 1s}
        entrypoint:
          - {call: app}
        """,
        rate="8/s",
        duration="0.5s",
        drain=drain,
    )
    outcomes, result = simulate(run)

    assert run.env.now == approx(ends_at)
    assert result.arrived == 3
    assert result.succeeded == succeeded == len(outcomes)
    assert result.in_flight == 3 - succeeded
    assert result.completed_in_window == 0
