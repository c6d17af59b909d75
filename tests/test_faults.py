"""Faults in time windows: slow, failing and down replicas, exactly when.

Requests arrive one a second (request k at k seconds) at a service with a
constant 100 ms of work, so every latency says which fault held.
"""

import pytest
from helpers import topology_run, trace

from simulator.errors import ScenarioError
from simulator.scenario.loader import load_scenario_text

SERVICE = """
name: faults
seed: 3
run: {{duration: {duration}, drain: 100s}}
workload: {{arrivals: {{kind: constant, rate: 1/s}}}}
topologies:
  t:
    services:
      api:
        kind: container
        replicas: {replicas}
        concurrency: 4
        work: {work}
        load_balancing: {policy}
        faults: {faults}
    entrypoint:
      - {{call: api}}
"""


def outcomes_of(
    faults: str,
    replicas: int = 1,
    policy: str = "shared-queue",
    work: str = "100ms",
    duration: str = "10.5s",
) -> list[tuple[int, str | None, float]]:
    text = SERVICE.format(
        faults=faults, replicas=replicas, policy=policy, work=work, duration=duration
    )
    run = topology_run(text)
    outcomes = trace(run)
    run.run()
    return sorted((o.id, o.cause, round(o.latency_s, 9)) for o in outcomes)


def test_slow_window_multiplies_work_and_adds_latency() -> None:
    faults = "[{kind: slow, factor: 3, added_latency: 50ms, start: 3s, end: 6s}]"
    latencies = {i: latency for i, _, latency in outcomes_of(faults)}
    assert [latencies[i] for i in range(1, 11)] == pytest.approx(
        [0.1, 0.1, 0.35, 0.35, 0.35, 0.1, 0.1, 0.1, 0.1, 0.1]
    )


def test_overlapping_slow_faults_multiply() -> None:
    faults = (
        "[{kind: slow, factor: 2, start: 2s, end: 5s}, "
        "{kind: slow, factor: 3, start: 4s, end: 7s}]"
    )
    latencies = {i: latency for i, _, latency in outcomes_of(faults)}
    assert [latencies[i] for i in range(1, 9)] == pytest.approx(
        [0.1, 0.2, 0.2, 0.6, 0.3, 0.3, 0.1, 0.1]
    )


def test_error_window_fails_requests_at_once() -> None:
    faults = "[{kind: errors, error_rate: 1.0, start: 2s, end: 4s}]"
    results = outcomes_of(faults)
    assert [(i, cause) for i, cause, _ in results if cause] == [
        (2, "failed"),
        (3, "failed"),
    ]
    assert all(latency == 0.0 for _, cause, latency in results if cause)


def test_error_rate_fails_its_fraction() -> None:
    faults = "[{kind: errors, error_rate: 0.3, start: 0s, end: 10000s}]"
    results = outcomes_of(faults, duration="2000.5s", work="1ms")
    failed = sum(1 for _, cause, _ in results if cause)
    # Binomial(2000, 0.3): sd 20.5; allow 4 sd.
    assert abs(failed - 600) < 82


def test_a_replica_that_goes_down_fails_what_it_holds_and_refuses_the_rest() -> None:
    # Replica 0 of two is down in [3.05 s, 6 s): the request it is working
    # on (sent at 3 s) fails at 3.05 s; round robin sends it requests 5
    # (refused at once) and, after the restart, 7 and 9 (served).
    faults = "[{kind: down, replica: 0, start: 3.05s, end: 6s}]"
    results = outcomes_of(faults, replicas=2, policy="round-robin")
    assert results == [
        (1, None, 0.1),
        (2, None, 0.1),
        (3, "failed", 0.05),
        (4, None, 0.1),
        (5, "failed", 0.0),
        (6, None, 0.1),
        (7, None, 0.1),
        (8, None, 0.1),
        (9, None, 0.1),
        (10, None, 0.1),
    ]


def test_a_hanging_replica_answers_nothing_until_it_restarts() -> None:
    faults = "[{kind: down, mode: hang, start: 2.5s, end: 5.5s}]"
    results = outcomes_of(faults)
    # Requests 3, 4 and 5 hang until the restart at 5.5 s, then fail.
    assert [(i, cause, latency) for i, cause, latency in results if cause] == [
        (3, "failed", 2.5),
        (4, "failed", 1.5),
        (5, "failed", 0.5),
    ]


def test_a_down_service_fails_its_queue_too() -> None:
    # One worker, 2.5 s of work: request 1 works from 1 s, request 2 queues
    # from 2 s; both fail when the service goes down at 3 s.
    faults = "[{kind: down, start: 3s, end: 3.5s}]"
    text = SERVICE.format(
        faults=faults,
        replicas=1,
        policy="shared-queue",
        work="2500ms",
        duration="2.5s",
    ).replace("concurrency: 4", "concurrency: 1")
    run = topology_run(text)
    outcomes = trace(run)
    result = run.run()
    assert sorted((o.id, o.cause, o.end_s) for o in outcomes) == [
        (1, "failed", 3.0),
        (2, "failed", 3.0),
    ]
    assert result.services["api"]["busy_workers_mean"] * 2.5 == pytest.approx(1.5)


def test_a_slow_replica_slows_only_its_share() -> None:
    faults = "[{kind: slow, replica: 1, factor: 5, start: 0s, end: 100s}]"
    results = outcomes_of(faults, replicas=2, policy="round-robin")
    assert [latency for _, _, latency in results] == pytest.approx([0.1, 0.5] * 5)


@pytest.mark.parametrize(
    ("faults", "policy", "expected"),
    [
        (
            "[{kind: slow, replica: 2, factor: 2, start: 1s, end: 2s}]",
            "round-robin",
            "replicas are numbered 0 to 1",
        ),
        (
            "[{kind: slow, replica: 0, factor: 2, start: 1s, end: 2s}]",
            "shared-queue",
            "a shared queue does not say which replica serves a request",
        ),
        (
            "[{kind: slow, factor: 2, start: 2s, end: 1s}]",
            "shared-queue",
            "a fault needs start < end",
        ),
        (
            "[{kind: broken, start: 1s, end: 2s}]",
            "shared-queue",
            "'broken'",
        ),
    ],
)
def test_bad_faults_are_reported_with_their_line(
    faults: str, policy: str, expected: str
) -> None:
    text = SERVICE.format(
        faults=faults, replicas=2, policy=policy, work="1ms", duration="1s"
    )
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(text, "faults.yaml")
    message = str(raised.value)
    assert expected in message
    assert message.startswith("faults.yaml:")
