"""Lambda invoke modes and concurrency: Event invokes, retries, event age,
payload limits, reserved, account and provisioned concurrency.

Constant arrivals and work: every instant is worked out by hand (next to each
test) and compared to 1e-9 s.
"""

import pytest
from tiny import EXACT, build, simulate

from simulator.engine.simulation import TopologyRun
from simulator.errors import ScenarioError
from simulator.pricing.monthly import price_replication


def approx(value: object) -> object:
    return pytest.approx(value, abs=EXACT)


def attempts(run: TopologyRun, function: str) -> list[tuple[float, float, str]]:
    """Record (start, end, slot) of every invocation of a function."""
    log: list[tuple[float, float, str]] = []
    target = run.services[function]
    run_on = target.run  # type: ignore[attr-defined]

    def probed(request: object, slot: str) -> object:
        start = run.env.now
        try:
            return (yield from run_on(request, slot))
        finally:
            log.append((start, run.env.now, slot))

    target.run = probed  # type: ignore[attr-defined]
    return log


def event_body(
    *,
    error_rate: float = 0.0,
    retries: int = 2,
    maximum_event_age: str = "6h",
    cold_start: str = "0s",
    limit: str = "null",
    calls: int = 1,
) -> str:
    branches = "\n".join("      - {call: f, via: inv}" for _ in range(calls))
    entry = "  - {call: f, via: inv}" if calls == 1 else f"  - parallel:\n{branches}"
    return f"""
services:
  f:
    kind: lambda
    memory_mb: 1024
    work: 100ms
    cold_start: {cold_start}
    error_rate: {error_rate}
    concurrency_limit: {limit}
    event_invoke: {{retries: {retries}, maximum_event_age: {maximum_event_age}}}
links:
  inv: {{pattern: lambda-invoke, mode: event, overhead: 10ms,
        network: {{latency: 1ms}}}}
entrypoint:
{entry}
"""


# Event (asynchronous) invokes


def test_event_invoke_answers_202_and_runs_the_function_later() -> None:
    # Arrival at 1 s: 1 ms to the Invoke API, 10 ms of overhead, the event is
    # queued at 1.011 s and the caller has its 202 at 1.012 s. The function
    # starts at once (cold, 200 ms of init) and ends at 1.311 s.
    run = build(event_body(cold_start="200ms"))
    log = attempts(run, "f")
    outcomes, result = simulate(run)

    assert [(o.cause, o.latency_s) for o in outcomes] == [(None, approx(0.012))]
    assert log == [(approx(1.011), approx(1.311), "cold")]
    link = result.hops["inv"]
    assert link["events"]["enqueued"] == link["events"]["succeeded"] == 1
    assert link["event_age_s"]["max"] == approx(0.0)
    assert link["async_completion_s"]["max"] == pytest.approx(0.3, rel=1e-3)


@pytest.mark.parametrize("retries", [0, 1, 2])
def test_a_failing_event_is_retried_after_one_then_two_minutes(retries: int) -> None:
    # Every attempt fails after its 100 ms. The second attempt starts 60 s
    # after the first failed, the third 120 s after the second failed. The
    # run (window until 1.5 s) drains until the last attempt has failed.
    run = build(event_body(error_rate=1.0, retries=retries), drain="10min")
    log = attempts(run, "f")
    _, result = simulate(run)

    starts = [1.011, 61.111, 181.211][: retries + 1]
    assert [start for start, _, _ in log] == approx(starts)
    assert [end for _, end, _ in log] == approx([s + 0.1 for s in starts])
    assert run.env.now == approx(max(1.5, starts[-1] + 0.1))
    events = result.hops["inv"]["events"]
    assert events["retries"] == retries
    assert (events["failed_after_retries"], events["dropped_max_age"]) == (1, 0)
    assert (events["succeeded"], events["in_flight"]) == (0, 0)


def test_an_event_between_attempts_when_the_drain_ends_is_in_flight() -> None:
    # A 60 s drain ends at 61.5 s, before the retry due at 61.111 s ends.
    run = build(event_body(error_rate=1.0), drain="60s")
    _, result = simulate(run)

    assert run.env.now == approx(61.5)
    assert result.hops["inv"]["events"]["in_flight"] == 1


def test_an_event_past_its_maximum_age_is_dropped() -> None:
    # Maximum age 90 s: the retry due at 61.111 s (age 60.1 s) runs; the next
    # one, due at 181.211 s (age 180.2 s), is dropped instead.
    run = build(event_body(error_rate=1.0, maximum_event_age="90s"), drain="10min")
    log = attempts(run, "f")
    _, result = simulate(run)

    assert [start for start, _, _ in log] == approx([1.011, 61.111])
    assert run.env.now == approx(181.211)
    events = result.hops["inv"]["events"]
    assert (events["retries"], events["failed_after_retries"]) == (2, 0)
    assert (events["dropped_max_age"], events["in_flight"]) == (1, 0)


def test_queued_events_wait_for_concurrency_and_report_their_age() -> None:
    # Three events queued at 1.011 s, a reserved concurrency of 1: they run
    # one after the other, so their ages are 0, 100 and 200 ms.
    run = build(event_body(limit="1", calls=3))
    log = attempts(run, "f")
    _, result = simulate(run)

    assert [start for start, _, _ in log] == approx([1.011, 1.111, 1.211])
    link = result.hops["inv"]
    assert link["event_age_s"]["max"] == pytest.approx(0.2, rel=1e-3)
    assert link["event_age_s"]["mean"] == approx(0.1)
    assert result.services["f"]["throttled"] == 0


@pytest.mark.parametrize(
    ("mode", "request_size", "response_size", "cause"),
    [
        ("event", "1MB", "8MB", None),
        ("event", "1.1MB", "1KB", "rejected"),
        ("sync", "1.1MB", "1KB", None),
        ("sync", "1KB", "6.1MB", "rejected"),
    ],
)
def test_payload_limits_are_6_mb_sync_and_1_mb_event(
    mode: str, request_size: str, response_size: str, cause: str | None
) -> None:
    run = build(
        f"""
        services:
          f: {{kind: lambda, memory_mb: 128, work: 10ms, cold_start: 0s}}
        links:
          inv: {{pattern: lambda-invoke, mode: {mode}}}
        entrypoint:
          - {{call: f, via: inv}}
        """,
        request_size=request_size,
        response_size=response_size,
    )
    outcomes, result = simulate(run)

    assert [o.cause for o in outcomes] == [cause]
    assert result.hops["inv"]["rejected"] == (cause is not None)


# Reserved, account and provisioned concurrency

PROVISIONED = """
services:
  f: {kind: lambda, memory_mb: 1024, work: 100ms, cold_start: 200ms,
      keep_alive: 30s, provisioned_concurrency: 2}
entrypoint:
  - parallel:
      - {call: f}
      - {call: f}
      - {call: f}
"""


def test_provisioned_instances_never_cold_start_and_the_rest_spills_over() -> None:
    # A burst of three invocations each minute; two provisioned instances.
    # Two run warm on them every time; the third spills over to an on-demand
    # instance, which has expired (30 s keep-alive) by the next burst: a cold
    # start each minute, and every request waits for it (300 ms).
    run = build(PROVISIONED, rate="1/min", duration="200s")
    log = attempts(run, "f")
    outcomes, result = simulate(run)

    assert [o.latency_s for o in outcomes] == approx([0.3, 0.3, 0.3])
    slots = [slot for _, _, slot in sorted(log)]
    assert slots == ["provisioned", "provisioned", "cold"] * 3
    assert all(end - start == approx(0.1) for start, end, s in log if s != "cold")
    f = result.services["f"]
    assert (f["cold_starts"], f["provisioned_invocations"]) == (3, 6)


def test_provisioned_concurrency_is_billed_by_the_hour() -> None:
    # Two 1 GB instances all month: 2 x 730 h x 3600 s = 5,256,000 GB-s at
    # $0.0000041667. Per request, 2 x 0.1 GB-s run on them (provisioned
    # duration rate) and 0.3 GB-s on demand (init included); a request a
    # minute is 43,800 a month.
    run = build(PROVISIONED, rate="1/min", duration="200s")
    _, result = simulate(run)
    lines = {line.meter: line for line in price_replication(result, run.scenario).lines}

    allocation = lines["lambda.provisioned-concurrency-x86"]
    assert allocation.quantity == pytest.approx(5_256_000)
    assert allocation.unit == "GB-second"
    assert allocation.usd == pytest.approx(5_256_000 * 0.0000041667)
    assert lines["lambda.provisioned-duration-x86"].quantity == pytest.approx(8_760)
    assert lines["lambda.provisioned-duration-x86"].unit_price_usd == pytest.approx(
        0.0000097222
    )
    assert lines["lambda.duration-x86"].quantity == pytest.approx(13_140)
    assert result.meters[("f", "lambda.provisioned-concurrency-x86")][1] == "time"


def test_functions_without_reservation_share_the_account_concurrency() -> None:
    # An account of 3 concurrent executions; four at once (f, f, g, g): the
    # fourth, g's second, is throttled, and the request fails after the join.
    run = build(
        """
        lambda_account_concurrency: 3
        services:
          f: {kind: lambda, memory_mb: 128, work: 100ms, cold_start: 0s}
          g: {kind: lambda, memory_mb: 128, work: 100ms, cold_start: 0s}
        entrypoint:
          - parallel: [{call: f}, {call: f}, {call: g}, {call: g}]
        """
    )
    outcomes, result = simulate(run)

    assert [o.cause for o in outcomes] == ["throttled"]
    assert (result.services["f"]["throttled"], result.services["g"]["throttled"]) == (
        0,
        1,
    )


def test_reserved_concurrency_is_a_cap_of_its_own() -> None:
    # f reserves 1 of the account's 1000: its second invocation is throttled
    # while g, unreserved, has room.
    run = build(
        """
        services:
          f: {kind: lambda, memory_mb: 128, work: 100ms, cold_start: 0s,
              concurrency_limit: 1}
          g: {kind: lambda, memory_mb: 128, work: 100ms, cold_start: 0s}
        entrypoint:
          - parallel: [{call: f}, {call: g}, {call: g}, {call: f}]
        """
    )
    _, result = simulate(run)

    assert (result.services["f"]["throttled"], result.services["g"]["throttled"]) == (
        1,
        0,
    )


@pytest.mark.parametrize(
    ("services", "message"),
    [
        (
            "f: {kind: lambda, memory_mb: 128, work: 1ms, cold_start: 0s,"
            " concurrency_limit: 2, provisioned_concurrency: 3}",
            r"provisioned_concurrency \(3\) cannot exceed",
        ),
        (
            "f: {kind: lambda, memory_mb: 128, work: 1ms, cold_start: 0s,"
            " concurrency_limit: 950}\n"
            "  g: {kind: lambda, memory_mb: 128, work: 1ms, cold_start: 0s}",
            "leaves 50 of the account's 1000",
        ),
    ],
)
def test_concurrency_settings_are_checked(services: str, message: str) -> None:
    body = f"""
services:
  {services}
entrypoint:
  - {{call: f}}
"""
    with pytest.raises(ScenarioError, match=message):
        build(body)
