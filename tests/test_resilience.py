"""Resilience on a synchronous hop: timeouts, cancellation, retries, breakers.

Each test builds a tiny topology, runs it with constant arrivals (request k
arrives at k seconds) and checks exact instants: when each try reaches the
callee, when the caller gives up, how long the callee's worker was busy, when
a breaker opens, half-opens and closes.
"""

import random

import pytest
from helpers import topology_run, trace

from simulator.engine.resilience import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BackoffClock,
    FailureBreaker,
    RetryBudgetWindow,
)
from simulator.engine.runtime import Process, Request, RequestFailed
from simulator.engine.simulation import TopologyRun
from simulator.engine.streams import stream_seed
from simulator.errors import ScenarioError
from simulator.scenario.base import Backoff, CircuitBreaker, RetryBudget
from simulator.scenario.loader import load_scenario_text

CHAIN = """
name: t
seed: 7
run: {{duration: {duration}, drain: 1000s}}
workload: {{arrivals: {{kind: constant, rate: {rate}}}}}
topologies:
  t:
    services:
      front:
        kind: container
        concurrency: 8
        steps:
          - {{call: back, via: inner}}
      back: {{kind: container, concurrency: {workers}, work: {work}}}
    links:
      outer: {outer}
      inner: {inner}
    entrypoint:
      - {{call: front, via: outer}}
"""

PLAIN = "{pattern: network}"


def chain(
    outer: str = PLAIN,
    inner: str = PLAIN,
    work: str = "0s",
    workers: int = 1,
    duration: str = "1.5s",
    rate: str = "1/s",
) -> TopologyRun:
    text = CHAIN.format(
        outer=outer,
        inner=inner,
        work=work,
        workers=workers,
        duration=duration,
        rate=rate,
    )
    return topology_run(text)


def record_visits(run: TopologyRun, service: str, fail: bool) -> list[float]:
    """Replace a service's steps by a probe that notes when each try arrives."""
    visits: list[float] = []

    def probe(request: Request) -> Process:
        visits.append(run.env.now)
        if fail:
            raise RequestFailed("failed", service)
        yield from ()

    run.services[service].steps = [probe]
    return visits


def only_first(run: TopologyRun, count: int) -> None:
    """Let only the first ``count`` requests into the topology; others end at once."""
    steps = list(run.entry)

    def gate(request: Request) -> Process:
        if request.id <= count:
            for step in steps:
                yield from step(request)

    run.entry = [gate]


# Retries with backoff against a callee that always fails.


def test_backoff_without_jitter_spaces_tries_exactly() -> None:
    inner = (
        "{pattern: network, retries: {attempts: 4, "
        "backoff: {base: 100ms, max: 250ms, multiplier: 2, jitter: none}}}"
    )
    run = chain(inner=inner)
    visits = record_visits(run, "back", fail=True)
    outcomes = trace(run)
    result = run.run()

    # Waits of 0.1, 0.2, then 0.4 capped at 0.25.
    assert visits == pytest.approx([1.0, 1.1, 1.3, 1.55], abs=1e-12)
    assert [(o.cause, o.end_s) for o in outcomes] == [("failed", pytest.approx(1.55))]
    inner_figures = result.hops["inner"]
    assert inner_figures["attempts"] == 4
    assert inner_figures["retries"] == 3
    assert inner_figures["attempts_per_call"] == 4.0
    assert inner_figures["try_errors"] == {"failed": 4}


def test_full_jitter_draws_from_the_named_stream() -> None:
    inner = (
        "{pattern: network, retries: {attempts: 3, "
        "backoff: {base: 100ms, multiplier: 3, jitter: full}}}"
    )
    run = chain(inner=inner)
    visits = record_visits(run, "back", fail=True)
    run.run()

    # The same stream, seeded from the scenario seed and the link's name.
    rng = random.Random(stream_seed(7, 0, "link/inner/backoff"))
    first, second = rng.random() * 0.1, rng.random() * 0.3
    assert visits == pytest.approx([1.0, 1.0 + first, 1.0 + first + second])
    assert 0 <= first < 0.1 and 0 <= second < 0.3


def test_stacked_retries_multiply_tries_at_the_inner_service() -> None:
    outer = (
        "{pattern: network, retries: {attempts: 3, "
        "backoff: {base: 1s, jitter: none, multiplier: 1}}}"
    )
    inner = (
        "{pattern: network, retries: {attempts: 3, "
        "backoff: {base: 10ms, jitter: none, multiplier: 2}}}"
    )
    run = chain(outer=outer, inner=inner)
    visits = record_visits(run, "back", fail=True)
    outcomes = trace(run)
    result = run.run()

    # Three outer tries, one second apart after each inner series of three.
    expected = []
    start = 1.0
    for _ in range(3):
        expected += [start, start + 0.01, start + 0.03]
        start += 0.03 + 1.0
    assert visits == pytest.approx(expected, abs=1e-9)
    assert len(visits) == 9
    assert outcomes[0].cause == "failed"
    assert result.hops["outer"]["attempts_per_request"] == 3.0
    assert result.hops["inner"]["attempts_per_request"] == 9.0
    assert result.hops["inner"]["attempts_per_call"] == 3.0
    assert result.services["back"]["served"] == 9


def test_a_cause_not_listed_is_not_retried() -> None:
    inner = "{pattern: network, retries: {attempts: 5, retry_on: [timeout]}}"
    run = chain(inner=inner)
    visits = record_visits(run, "back", fail=True)
    run.run()
    assert visits == [1.0]


def test_retry_budget_caps_retries_to_a_share_of_calls() -> None:
    # Ten calls, each may retry at once; the budget allows a retry while
    # retries + 1 <= 50 % of the calls so far: after calls 2, 4, 6, 8, 10.
    inner = (
        "{pattern: network, retries: {attempts: 3, backoff: {base: 0s}, "
        "budget: {percent: 50, window: 100s}}}"
    )
    run = chain(inner=inner, duration="10.5s")
    visits = record_visits(run, "back", fail=True)
    result = run.run()

    figures = result.hops["inner"]
    assert figures["calls"] == 10
    assert figures["retries"] == 5
    assert figures["attempts"] == 15
    assert figures["retries_denied_by_budget"] == 10
    assert [v for v in visits if visits.count(v) == 2][::2] == [
        2.0,
        4.0,
        6.0,
        8.0,
        10.0,
    ]


def test_budget_window_forgets_old_calls() -> None:
    budget = RetryBudgetWindow(RetryBudget(percent=100, window=10.0))
    budget.call_started(0.0)
    assert budget.allow(1.0)
    assert not budget.allow(2.0)
    # At 10.8 s the call of 0 s has left the window but the retry of 1 s has
    # not; at 11 s it has too.
    budget.call_started(10.5)
    assert not budget.allow(10.8)
    assert budget.allow(11.0)
    assert not budget.allow(11.0)


def test_backoff_ceiling_grows_and_caps() -> None:
    clock = BackoffClock(
        Backoff(base=0.025, multiplier=2.0, jitter="none"), random.Random(1)
    )
    assert [clock.wait_s(n) for n in range(1, 6)] == pytest.approx(
        [0.025, 0.05, 0.1, 0.2, 0.25]
    )


# Timeouts, with and without cancelling the callee's work.


@pytest.mark.parametrize(("cancel", "busy_s"), [(False, 5.0), (True, 1.0)])
def test_timeout_and_the_callees_busy_time(cancel: bool, busy_s: float) -> None:
    # One request at 60 s; its callee works 5 s; the caller waits 1 s.
    outer = (
        f"{{pattern: network, timeout: 1s, cancel_on_timeout: {str(cancel).lower()}}}"
    )
    run = chain(outer=outer, work="5s", duration="100s", rate="1/min")
    outcomes = trace(run)
    result = run.run()

    assert [(o.cause, o.end_s) for o in outcomes] == [("timeout", 61.0)]
    back = result.services["back"]
    assert back["busy_workers_mean"] * 100.0 == pytest.approx(busy_s)
    assert back["cancelled"] == (1 if cancel else 0)
    assert result.hops["outer"]["cancelled"] == (1 if cancel else 0)


@pytest.mark.parametrize(("cancel", "busy_s"), [(False, 10.0), (True, 2.5)])
def test_a_cancelled_request_leaves_the_queue(cancel: bool, busy_s: float) -> None:
    # Two requests at 1 s and 2 s on one worker, each for 5 s; the caller
    # waits 1.5 s. With cancellation the first frees the worker at 2.5 s, the
    # second (queued) runs from 2.5 s until its own timeout at 3.5 s; without,
    # both run to their end, one after the other.
    outer = (
        f"{{pattern: network, timeout: 1.5s, cancel_on_timeout: {str(cancel).lower()}}}"
    )
    run = chain(outer=outer, work="5s", duration="30s")
    only_first(run, 2)
    outcomes = trace(run)
    result = run.run()

    failed = [(o.id, o.cause, o.end_s) for o in outcomes if o.cause]
    assert failed == [(1, "timeout", 2.5), (2, "timeout", 3.5)]
    back = result.services["back"]
    assert back["busy_workers_mean"] * 30.0 == pytest.approx(busy_s)
    assert back["queue_length_peak"] == 1
    assert back["served"] == (0 if cancel else 2)


def test_cancellation_follows_the_chain_down() -> None:
    # The outer link cancels; the inner one has no timeout, so the work of
    # both services stops at the outer timeout.
    outer = "{pattern: network, timeout: 1s, cancel_on_timeout: true}"
    run = chain(outer=outer, work="5s", duration="100s", rate="1/min")
    result = run.run()
    assert result.services["back"]["busy_workers_mean"] * 100 == pytest.approx(1.0)
    assert result.services["front"]["busy_workers_mean"] * 100 == pytest.approx(1.0)


def test_overall_timeout_cuts_the_last_try() -> None:
    outer = (
        "{pattern: network, timeout: 1s, overall_timeout: 2.5s, "
        "cancel_on_timeout: true, retries: {attempts: 5, backoff: {base: 0s}}}"
    )
    run = chain(outer=outer, work="10s", duration="100s", rate="1/min")
    visits: list[float] = []
    steps = list(run.services["back"].steps)

    def probe(request: Request) -> Process:
        visits.append(run.env.now)
        for step in steps:
            yield from step(request)

    run.services["back"].steps = [probe]
    outcomes = trace(run)
    result = run.run()

    assert visits == pytest.approx([60.0, 61.0, 62.0])
    assert [(o.cause, o.end_s) for o in outcomes] == [("timeout", 62.5)]
    assert result.services["back"]["busy_workers_mean"] * 100 == pytest.approx(2.5)


def test_overall_timeout_during_backoff_gives_up_at_its_instant() -> None:
    outer = (
        "{pattern: network, overall_timeout: 1.5s, retries: {attempts: 3, "
        "backoff: {base: 1s, jitter: none, multiplier: 1}}}"
    )
    run = chain(outer=outer)
    visits = record_visits(run, "back", fail=True)
    outcomes = trace(run)
    run.run()
    assert visits == [1.0, 2.0]
    assert [(o.cause, o.end_s) for o in outcomes] == [("timeout", 2.5)]


# Circuit breaking.


def test_breaker_opens_half_opens_and_closes_at_exact_instants() -> None:
    # The callee fails every request until 9.5 s. Three failures in a row
    # (1, 2, 3 s) open the breaker; at 8 s it half-opens, the trial fails and
    # it opens again; at 13 s it half-opens, the trial succeeds after its
    # 0.1 s of work and the breaker closes at 13.1 s.
    text = CHAIN.format(
        outer="{pattern: network, circuit_breaker: {consecutive_failures: 3, "
        "open_for: 5s}}",
        inner=PLAIN,
        work="100ms",
        workers=1,
        duration="15.5s",
        rate="1/s",
    ).replace(
        "work: 100ms}",
        "work: 100ms, load_balancing: round-robin, faults: "
        "[{kind: errors, error_rate: 1.0, start: 0s, end: 9.5s}]}",
    )
    run = topology_run(text)
    outcomes = trace(run)
    run.run()

    guard = run.hops["outer"].guard
    assert guard is not None and guard.breaker is not None
    transitions = [(pytest.approx(t), s) for t, s in guard.breaker.transitions]
    assert transitions == [
        (3.0, OPEN),
        (8.0, HALF_OPEN),
        (8.0, OPEN),
        (13.0, HALF_OPEN),
        (13.1, CLOSED),
    ]
    causes = {o.id: o.cause for o in outcomes}
    assert [causes[i] for i in range(1, 16)] == (
        ["failed"] * 3
        + ["circuit_open"] * 4
        + ["failed"]
        + ["circuit_open"] * 4
        + [None] * 3
    )


def test_half_open_admits_only_its_trials() -> None:
    breaker = FailureBreaker(
        CircuitBreaker(consecutive_failures=1, open_for=1.0, half_open_requests=2),
        "link",
    )
    breaker.record(breaker.admit(0.0), "failed", 0.0)
    assert breaker.state == OPEN
    first, second = breaker.admit(1.0), breaker.admit(1.0)
    assert first and second
    with pytest.raises(RequestFailed) as raised:
        breaker.admit(1.0)
    assert raised.value.cause == "circuit_open"
    breaker.record(first, None, 1.2)
    assert breaker.state == HALF_OPEN
    breaker.record(second, None, 1.5)
    assert breaker.state == CLOSED
    assert breaker.transitions[-1] == (1.5, CLOSED)


def test_concurrency_limits_fail_fast_beyond_active_and_pending() -> None:
    # One try active, one pending; the third fails at once.
    outer = "{pattern: network, circuit_breaker: {max_active: 1, max_pending: 1}}"
    run = chain(outer=outer, work="10s", workers=4, duration="30s")
    only_first(run, 3)
    outcomes = trace(run)
    result = run.run()

    ends = {o.id: (o.cause, o.end_s) for o in outcomes}
    assert ends[3] == ("circuit_open", 3.0)
    assert ends[1] == (None, 11.0)
    assert ends[2] == (None, 21.0)
    assert result.hops["outer"]["circuit_overflows"] == 1


def test_a_pending_try_leaves_at_its_timeout() -> None:
    outer = (
        "{pattern: network, timeout: 2s, circuit_breaker: {max_active: 1, "
        "max_pending: 5}}"
    )
    run = chain(outer=outer, work="10s", workers=4, duration="30s")
    only_first(run, 2)
    outcomes = trace(run)
    run.run()
    ends = {o.id: (o.cause, o.end_s) for o in outcomes if o.id <= 2}
    assert ends == {1: ("timeout", 3.0), 2: ("timeout", 4.0)}


# Scenario errors.


def test_client_side_balancing_needs_per_replica_queues() -> None:
    text = CHAIN.format(
        outer="{pattern: network, load_balancing: round-robin}",
        inner=PLAIN,
        work="1ms",
        workers=1,
        duration="1s",
        rate="1/s",
    )
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(text, "balancing.yaml")
    message = str(raised.value)
    assert "balancing.yaml:" in message
    assert "needs a queue per replica" in message


def test_pending_limit_needs_an_active_limit() -> None:
    text = CHAIN.format(
        outer="{pattern: network, circuit_breaker: {max_pending: 3, "
        "consecutive_failures: 2}}",
        inner=PLAIN,
        work="1ms",
        workers=1,
        duration="1s",
        rate="1/s",
    )
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(text, "breaker.yaml")
    assert "max_pending needs max_active" in str(raised.value)


@pytest.mark.parametrize(("cancel", "billed_s"), [(False, 5.0), (True, 1.0)])
def test_a_cancelled_lambda_frees_its_instance_and_bills_until_then(
    cancel: bool, billed_s: float
) -> None:
    text = f"""
name: fn
run: {{duration: 100s, drain: 100s}}
workload: {{arrivals: {{kind: constant, rate: 1/min}}}}
topologies:
  t:
    services:
      fn: {{kind: lambda, memory_mb: 1024, work: 5s, cold_start: 0s}}
    links:
      invoke:
        pattern: lambda-invoke
        timeout: 1s
        cancel_on_timeout: {str(cancel).lower()}
    entrypoint:
      - {{call: fn, via: invoke}}
"""
    run = topology_run(text)
    outcomes = trace(run)
    result = run.run()

    assert [(o.cause, o.end_s) for o in outcomes] == [("timeout", 61.0)]
    fn = result.services["fn"]
    assert fn["concurrency_mean"] * 100 == pytest.approx(billed_s)
    # 1 GB of memory: GB-seconds are the billed seconds.
    assert result.meters[("fn", "lambda.duration-x86")][0] == pytest.approx(billed_s)
    assert run.services["fn"].running == 0  # type: ignore[attr-defined]


def test_a_bad_retry_setting_is_located_under_its_link() -> None:
    # The link's pattern tag (network) is also a key of the link: the error
    # must still point at retries.attempts, on its own line.
    text = CHAIN.format(
        outer="\n        pattern: network\n        retries:\n          attempts: 0",
        inner=PLAIN,
        work="1ms",
        workers=1,
        duration="1s",
        rate="1/s",
    )
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(text, "retries.yaml")
    problem = raised.value.problems[0]
    assert problem.location == "topologies.t.links.outer.retries.attempts"
    assert text.splitlines()[problem.line - 1].strip() == "attempts: 0"
