"""REST and RPC hops: handshakes, encodings, status failures, deadlines.

Arrivals and work are constant, so every instant below is worked out by hand
from the rules of the patterns (written next to each test) and compared to
1e-9 s. One-way network latencies are constants too, so a handshake of k round
trips costs exactly 2 k of them.
"""

import math

import pytest
from tiny import EXACT, build, simulate, spans, watch

from simulator.patterns.wire import handshake_round_trips


def approx(value: object) -> object:
    return pytest.approx(value, abs=EXACT)


# Handshakes and connections


@pytest.mark.parametrize(("tls", "round_trips"), [("none", 1), ("1.3", 2), ("1.2", 3)])
def test_a_handshake_per_call_adds_its_round_trips(tls: str, round_trips: int) -> None:
    # Arrivals at 1 s and 2 s; each call opens a connection (TCP one round
    # trip, TLS 1.3 one more, TLS 1.2 two more) of 2 ms a round trip, then
    # pays 1 ms each way and 100 ms of work.
    run = build(
        f"""
        services:
          app: {{kind: container, concurrency: 4, work: 100ms}}
        links:
          l: {{pattern: rest, connection: per-call, tls: "{tls}",
              network: {{latency: 1ms}}}}
        entrypoint:
          - {{call: app, via: l}}
        """,
        duration="2.5s",
    )
    outcomes, result = simulate(run)

    assert handshake_round_trips(tls) == round_trips  # type: ignore[arg-type]
    expected = 0.002 * round_trips + 0.001 + 0.1 + 0.001
    assert [o.latency_s for o in outcomes] == approx([expected, expected])
    link = result.hops["l"]
    assert link["handshakes"] == 2
    assert link["time_per_call_s"]["handshake"] == approx(0.002 * round_trips)


def test_keep_alive_opens_a_connection_only_when_none_is_idle() -> None:
    # Arrivals every 100 ms from 0.1 s, 250 ms of work, 1 ms a leg, TLS 1.3
    # (4 ms of handshake). Calls 1-3 find no idle connection and open one
    # (256 ms each); call 4 at 0.4 s reuses the one call 1 gave back at
    # 0.356 s, and so on: three connections serve all ten calls.
    run = build(
        """
        services:
          app: {kind: container, concurrency: 10, work: 250ms}
        links:
          l: {pattern: rest, connection: reuse, tls: "1.3", network: {latency: 1ms}}
        entrypoint:
          - {call: app, via: l}
        """,
        rate="10/s",
        duration="1.05s",
    )
    outcomes, result = simulate(run)

    assert [o.latency_s for o in outcomes] == approx([0.256] * 3 + [0.252] * 7)
    assert result.hops["l"]["handshakes"] == 3
    assert result.hops["l"]["handshakes_per_call"] == approx(0.3)


def test_rpc_calls_share_one_connection_and_wait_for_its_handshake() -> None:
    # Arrivals every 250 ms from 0.25 s; 100 ms one way, TLS 1.2: the one
    # connection takes three round trips (0.6 s) from 0.25 s, ready at 0.85 s.
    # Calls starting before then wait for it (none opens its own); each then
    # pays 100 ms, 10 ms of work, 100 ms: all three end at 1.06 s. The call at
    # 1 s finds the connection open.
    run = build(
        """
        services:
          app: {kind: container, concurrency: 4, work: 10ms}
        links:
          l: {pattern: rpc, tls: "1.2", network: {latency: 100ms}}
        entrypoint:
          - {call: app, via: l}
        """,
        rate="4/s",
        duration="1.1s",
    )
    outcomes, result = simulate(run)

    assert [o.end_s for o in outcomes] == approx([1.06, 1.06, 1.06, 1.21])
    assert [o.latency_s for o in outcomes] == approx([0.81, 0.56, 0.31, 0.21])
    assert result.hops["l"]["handshakes"] == 1


def test_encoding_sets_bytes_on_the_wire_and_serialisation_time() -> None:
    # Messages of 1000 and 3000 bytes (binary) become 2 x size + 500 bytes:
    # 2500 and 6500 on the wire. Encoding 10 us/KB plus decoding 20 us/KB of
    # both: 30 us x 9 KB = 270 us. At 1 MB/s the payloads take 2.5 and 6.5
    # ms; 1 ms a leg; the first (only) call opens a plain TCP connection (one
    # round trip, 2 ms). Cross-AZ bytes are billed out and in (x 2).
    run = build(
        """
        services:
          app: {kind: container, work: 100ms}
        links:
          l:
            pattern: rest
            tls: none
            encoding: {size_factor: 2, header_size: 500B, encode_per_kb: 10us,
                       decode_per_kb: 20us}
            network: {latency: 1ms, bandwidth: 1MB/s, zone: cross-az}
        entrypoint:
          - {call: app, via: l}
        """,
        response_size="3000B",
    )
    outcomes, result = simulate(run)

    assert outcomes[0].latency_s == approx(0.002 + 0.00027 + 0.002 + 0.009 + 0.1)
    link = result.hops["l"]
    assert link["wire_bytes_per_call"] == approx(9000.0)
    assert link["time_per_call_s"] == approx(
        {
            "handshake": 0.002,
            "serialisation": 0.00027,
            "network": 0.002,
            "payload": 0.009,
        }
    )
    assert result.meters[("l", "transfer.cross-az")][0] == approx(18000.0)


def test_rest_failures_by_status_follow_their_fractions() -> None:
    # 503 on 20 % and 429 on 5 % of about 4000 calls: binomial counts within
    # four standard deviations. A 503 fails with cause "failed", a 429 with
    # "throttled"; neither is a latency sample.
    run = build(
        """
        services:
          app: {kind: container, concurrency: 50, work: 1ms}
        links:
          l: {pattern: rest, failures: {503: 0.2, 429: 0.05}}
        entrypoint:
          - {call: app, via: l}
        """,
        rate="100/s",
        duration="40s",
        arrivals="poisson",
    )
    _, result = simulate(run)

    n = result.arrived
    for cause, status, p in (("failed", "503", 0.2), ("throttled", "429", 0.05)):
        count = result.errors[cause]
        assert abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p)), cause
        assert result.hops["l"]["error_statuses"][status] == count
    assert result.latency.count == result.succeeded
    assert result.succeeded == n - result.errors["failed"] - result.errors["throttled"]


# Deadlines

CHAIN = """
services:
  b: {{kind: container, steps: [{{compute: 300ms}}, {{call: c, via: r2}}]}}
  c: {{kind: container, steps: [{{compute: 500ms}}, {{call: d, via: r3}}]}}
  d: {{kind: container, work: 5s}}
links:
  r1: {{pattern: rpc, deadline: 1s, cancel_on_deadline: {cancel1}}}
  r2: {{pattern: rpc, cancel_on_deadline: {cancel2}}}
  r3: {{pattern: rpc, cancel_on_deadline: {cancel3}}}
entrypoint:
  - {{call: b, via: r1}}
"""


def test_deadline_propagates_down_a_three_hop_chain_and_cancels_it() -> None:
    # One request at 1 s with a 1 s budget: b works 300 ms, c 500 ms, so d is
    # called at 1.8 s with 0.2 s left (its request carries the deadline 2 s).
    # At 2 s the client gives up; the cancellation runs down the chain and
    # frees b, c and d at that instant.
    run = build(CHAIN.format(cancel1="true", cancel2="true", cancel3="true"))
    visits = {name: watch(run, name) for name in ("b", "c", "d")}
    outcomes, result = simulate(run)

    assert [(o.cause, o.end_s) for o in outcomes] == [("timeout", approx(2.0))]
    assert list(spans(visits["b"])) == [(1, approx(1.0), approx(2.0))]
    assert list(spans(visits["c"])) == [(1, approx(1.3), approx(2.0))]
    assert list(spans(visits["d"])) == [(1, approx(1.8), approx(2.0))]
    assert [v.deadline_s for v in visits["d"]] == approx([2.0])
    assert result.hops["r1"]["cancelled"] == 1
    for name in ("b", "c", "d"):
        assert run.services[name].busy.level == 0, name  # type: ignore[attr-defined]


def test_an_inner_call_gives_up_at_exactly_the_remaining_budget() -> None:
    # As above, but the outer calls do not cancel: the call to d gives up on
    # its own after the 0.2 s left of the budget (1.8 s -> 2 s) and cancels d;
    # every hop of the chain reports a timeout at 2 s.
    run = build(CHAIN.format(cancel1="false", cancel2="false", cancel3="true"))
    visits = watch(run, "d")
    outcomes, result = simulate(run)

    assert [(o.cause, o.end_s) for o in outcomes] == [("timeout", approx(2.0))]
    assert list(spans(visits)) == [(1, approx(1.8), approx(2.0))]
    for link in ("r1", "r2", "r3"):
        assert result.hops[link]["errors"] == {"timeout": 1}, link
        assert result.hops[link]["deadline_exceeded"] == 1, link
    assert result.hops["r3"]["cancelled"] == 1


def test_without_cancellation_the_callee_works_on() -> None:
    # No hop cancels: the client still fails at 2 s, but d works its 5 s.
    run = build(CHAIN.format(cancel1="false", cancel2="false", cancel3="false"))
    visits = watch(run, "d")
    outcomes, _ = simulate(run)
    run.env.run(until=10.0)

    assert [(o.cause, o.end_s) for o in outcomes] == [("timeout", approx(2.0))]
    assert list(spans(visits)) == [(1, approx(1.8), approx(6.8))]


def test_a_callee_that_receives_an_expired_deadline_does_not_start() -> None:
    # A 50 ms deadline over a link of 100 ms one way: the client gives up at
    # 1.05 s; the request reaches app at 1.1 s, past its deadline, and app does
    # no work (the call is not cancelled in flight, so it does arrive).
    run = build(
        """
        services:
          app: {kind: container, work: 10ms}
        links:
          l: {pattern: rpc, deadline: 50ms, cancel_on_deadline: false,
              network: {latency: 100ms}}
        entrypoint:
          - {call: app, via: l}
        """
    )
    visits = watch(run, "app")
    outcomes, result = simulate(run)
    run.env.run(until=2.0)

    assert [(o.cause, o.end_s) for o in outcomes] == [("timeout", approx(1.05))]
    assert visits == []
    assert result.hops["l"]["errors"] == {"timeout": 1}
    assert run.hops["l"].expired_on_arrival == 1  # type: ignore[attr-defined]


def test_a_call_whose_budget_is_spent_fails_without_sending() -> None:
    # The client's 200 ms budget ends at 1.2 s, while b works until 1.3 s (r1
    # does not cancel it). b's call to c then has no budget left: it fails at
    # once, sends nothing (no cross-AZ bytes) and c never runs.
    run = build(
        """
        services:
          b: {kind: container, steps: [{compute: 300ms}, {call: c, via: r2}]}
          c: {kind: container, work: 10ms}
        links:
          r1: {pattern: rpc, deadline: 200ms, cancel_on_deadline: false}
          r2: {pattern: rpc, network: {zone: cross-az}}
        entrypoint:
          - {call: b, via: r1}
        """
    )
    b_visits = watch(run, "b")
    c_visits = watch(run, "c")
    outcomes, result = simulate(run)
    run.env.run(until=2.0)

    assert [(o.cause, o.end_s) for o in outcomes] == [("timeout", approx(1.2))]
    assert list(spans(b_visits)) == [(1, approx(1.0), approx(1.3))]
    assert c_visits == []
    assert run.hops["r2"].errors["timeout"] == 1
    assert result.meters[("r2", "transfer.cross-az")][0] == 0.0


def test_rest_does_not_carry_a_deadline_to_its_callee() -> None:
    # b receives the client's deadline (1 s + 1 s); c, called over REST from
    # b, receives none.
    run = build(
        """
        services:
          b: {kind: container, steps: [{call: c, via: rest}]}
          c: {kind: container, work: 10ms}
        links:
          r1: {pattern: rpc, deadline: 1s}
          rest: {pattern: rest}
        entrypoint:
          - {call: b, via: r1}
        """
    )
    b_visits = watch(run, "b")
    c_visits = watch(run, "c")
    simulate(run)

    assert [v.deadline_s for v in b_visits] == approx([2.0])
    assert [v.deadline_s for v in c_visits] == [math.inf]


def test_cancelling_a_caller_cancels_its_rpc_calls() -> None:
    # The client's link gives up on b after 1 s and cancels it (a timeout of
    # the link, not a deadline). b is then waiting on an RPC call to c with
    # 10 s of budget left: the cancellation follows the call, and c's worker
    # is freed at 2 s instead of working until 6.3 s.
    run = build(
        """
        services:
          b: {kind: container, steps: [{compute: 300ms}, {call: c, via: r}]}
          c: {kind: container, work: 5s}
        links:
          edge: {pattern: network, timeout: 1s, cancel_on_timeout: true}
          r: {pattern: rpc, deadline: 10s}
        entrypoint:
          - {call: b, via: edge}
        """
    )
    visits = watch(run, "c")
    outcomes, _ = simulate(run)
    run.env.run(until=10.0)

    assert [(o.cause, o.end_s) for o in outcomes] == [("timeout", approx(2.0))]
    assert list(spans(visits)) == [(1, approx(1.3), approx(2.0))]


def test_same_seed_gives_the_same_figures() -> None:
    # Drawn serialisation, latency and status failures: two builds of the same
    # scenario and seed agree on every figure.
    body = """
        services:
          app: {kind: container, concurrency: 8, work: {kind: exponential, mean: 5ms}}
        links:
          l:
            pattern: rest
            failures: {500: 0.1}
            encoding: {size_factor: 1.5, encode_per_kb: {kind: exponential, mean: 5us}}
            network: {latency: {kind: exponential, mean: 1ms}}
        entrypoint:
          - {call: app, via: l}
        """

    def figures() -> tuple[object, ...]:
        _, result = simulate(
            build(body, rate="200/s", duration="5s", arrivals="poisson")
        )
        return result.hops["l"], result.latency.summary(), result.errors

    assert figures() == figures()
