"""Run length, warm-up, closed-loop users, routing steps, Little's law."""

import pytest
from helpers import invoke

from simulator.engine.simulation import TopologyRun, simulate
from simulator.scenario.loader import load_scenario_text
from simulator.testing import run


def one_service(
    run_settings: str,
    arrivals: str = "{kind: poisson, rate: 50/s}",
    work: str = "{kind: exponential, mean: 10ms}",
    entrypoint: str = "[{call: api}]",
    extra_services: str = "",
) -> str:
    return f"""\
name: run length
seed: 9
run: {run_settings}
workload:
  arrivals: {arrivals}
topologies:
  t:
    services:
      api: {{kind: container, work: {work}}}
{extra_services}
    entrypoint: {entrypoint}
"""


# Run length by requests


def test_the_window_ends_at_the_arrival_of_the_last_measured_request() -> None:
    text = one_service("{requests: 1000, warmup: 2s}")
    scenario = load_scenario_text(text)

    result = simulate(scenario, "t", 0)

    assert result.arrived == 1000
    assert result.warmup_s == 2.0
    # 1,000 arrivals at 50/s take about 20 s (sd of the sum: sqrt(1000)/50).
    assert 20.0 - 4 * 0.64 < result.window_s < 20.0 + 4 * 0.64
    assert result.succeeded + result.in_flight + sum(result.errors.values()) == 1000


def test_by_requests_and_by_duration_agree_on_the_same_window() -> None:
    by_requests = load_scenario_text(one_service("{requests: 500}"))
    first = simulate(by_requests, "t", 0)

    # A window of exactly that length holds the same requests, bar the last
    # (the window by duration is half open, so it excludes its end).
    by_duration = load_scenario_text(one_service(f"{{duration: {first.window_s}}}"))
    second = simulate(by_duration, "t", 0)

    assert second.arrived == first.arrived - 1
    assert second.latency.mean_s == pytest.approx(first.latency.mean_s, rel=0.05)


@pytest.mark.parametrize(
    ("settings", "rule"),
    [
        ("{duration: 10s, requests: 10}", "exactly one of: duration, requests"),
        ("{warmup: 1s}", "exactly one of: duration, requests"),
        ("{requests: 10.5}", "whole number"),
        ("{duration: 10s, warmup: soon}", "is not a duration"),
    ],
)
def test_run_length_errors_name_the_rule(settings: str, rule: str, tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(one_service(settings))

    result = invoke("validate", str(path))

    assert result.exit_code == 2
    assert rule in result.stderr
    assert f"{path}:3:" in result.stderr


# Automatic warm-up


def test_auto_warmup_reruns_with_the_cut_as_a_fixed_warmup() -> None:
    text = one_service(
        "{duration: 200s, warmup: auto}",
        arrivals="{kind: poisson, rate: 90/s}",
    )
    scenario = load_scenario_text(text)

    result = simulate(scenario, "t", 1)
    cut = result.warmup_cut
    assert cut is not None
    fixed = TopologyRun(scenario, "t", 1, warmup_s=cut.time_s).run()

    assert result.warmup_s == cut.time_s
    assert cut.requests % cut.batch_size == 0
    assert (result.arrived, result.succeeded) == (fixed.arrived, fixed.succeeded)
    assert result.latency.mean_s == fixed.latency.mean_s


def test_auto_warmup_is_reported_per_replication() -> None:
    text = one_service("{duration: 60s, warmup: auto, replications: 2}")
    result = run(load_scenario_text(text))

    from simulator.report.document import build_document

    document = build_document(result)
    cuts = document["topologies"][0]["run"]["warmup_cut"]
    assert [c["method"] for c in cuts] == ["MSER-5", "MSER-5"]
    assert document["topologies"][0]["run"]["warmup_s"] == [c["time_s"] for c in cuts]
    assert document["assumptions"]["warmup"].startswith("auto: MSER-5")


def test_a_run_too_short_for_steady_state_is_flagged() -> None:
    # Overloaded (rho = 1.5): latency keeps growing, MSER-5 finds no plateau.
    text = one_service(
        "{duration: 30s, warmup: auto, drain: 0s}",
        arrivals="{kind: poisson, rate: 150/s}",
    )
    result = run(load_scenario_text(text))

    assert result.topologies[0].replications[0].warmup_cut.at_limit
    assert "warmup_s" in result.topologies[0].unreliable


# Closed-loop users


def test_closed_users_never_have_more_requests_in_flight_than_users() -> None:
    text = one_service(
        "{duration: 60s, warmup: 5s}",
        arrivals="{kind: closed, users: 3, think_time: 100ms}",
        work="{kind: exponential, mean: 50ms}",
    )
    scenario = load_scenario_text(text)
    built = TopologyRun(scenario, "t", 0)
    peak = []

    def watch():
        while True:
            peak.append(built.in_flight.level)
            yield built.env.timeout(0.01)

    built.env.process(watch())
    result = built.run()

    assert max(peak) == 3
    # Each user cycles through 100 ms of thinking and 50 ms of work on
    # average, plus waiting: at most about 3 / 0.15 = 20 requests a second,
    # where users that did not wait for responses would send 30.
    assert result.arrived / result.window_s < 20 * 1.05


def test_closed_users_month_follows_the_measured_rate() -> None:
    text = one_service(
        "{duration: 30s, replications: 2}",
        arrivals="{kind: closed, users: 2, think_time: 1s}",
    )
    result = run(load_scenario_text(text))
    summary = result.topologies[0]

    offered = summary.figures["offered_rps"].mean
    assert summary.basis.monthly_requests == pytest.approx(offered * 730 * 3600)


# Routing steps


def test_choice_sends_each_branch_its_share() -> None:
    text = one_service(
        "{requests: 20000}",
        entrypoint="[{choice: [{weight: 1, steps: [{call: api}]}, "
        "{weight: 3, steps: [{call: other}]}]}]",
        extra_services="      other: {kind: container, concurrency: 4, work: 1ms}",
    )
    result = simulate(load_scenario_text(text), "t", 0)

    share = result.services["api"]["served"] / result.arrived
    # Binomial(20000, 0.25): the standard deviation is 0.3 %.
    assert share == pytest.approx(0.25, abs=0.012)


def test_repeat_passes_are_geometric() -> None:
    text = one_service(
        "{requests: 20000}",
        work="1ms",
        entrypoint="[{repeat: {again: 0.6, steps: [{call: api}]}}]",
        arrivals="{kind: poisson, rate: 10/s}",
    )
    result = simulate(load_scenario_text(text), "t", 0)

    visits = result.services["api"]["served"] / result.arrived
    # Mean 1 / (1 - 0.6) = 2.5 passes, sd of the mean about 0.014.
    assert visits == pytest.approx(2.5, abs=0.06)


def test_a_choice_calling_an_unknown_service_is_caught(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        one_service(
            "{duration: 1s}",
            entrypoint="[{choice: [{weight: 1, steps: [{call: nowhere}]}, "
            "{weight: 1}]}]",
        )
    )

    result = invoke("validate", str(path))

    assert result.exit_code == 2
    assert "topologies.t.entrypoint.0.choice.0.steps.0.call" in result.stderr
    assert "'nowhere' is not a service" in result.stderr


# Time-weighted figures and Little's law


def test_utilisation_ignores_the_drain() -> None:
    # One request at 0.5 s takes 10 s; the window ends at 1 s.
    text = one_service(
        "{duration: 1s}", arrivals="{kind: constant, rate: 2/s}", work="10s"
    )
    result = simulate(load_scenario_text(text), "t", 0)

    assert result.services["api"]["utilisation"] == pytest.approx(0.5)
    assert result.in_flight_mean == pytest.approx(0.5)


def test_littles_law_is_an_identity_on_a_run_that_drains() -> None:
    text = one_service(
        "{duration: 100s, warmup: 10s}",
        arrivals="{kind: poisson, rate: 80/s}",
        work="{kind: lognormal, mean: 10ms, sd: 20ms}",
    )
    result = simulate(load_scenario_text(text), "t", 3)

    assert result.in_flight == 0
    found = result.littles_law()
    assert found is not None
    in_flight, rate, sojourn = found
    assert in_flight == pytest.approx(rate * sojourn, rel=1e-9)
    assert sojourn == pytest.approx(result.latency.mean_s, rel=1e-12)


def test_littles_law_is_not_claimed_when_the_drain_is_cut_short() -> None:
    text = one_service(
        "{duration: 10s, drain: 0s}",
        arrivals="{kind: poisson, rate: 95/s}",
    )
    result = simulate(load_scenario_text(text), "t", 0)

    assert result.in_flight > 0
    assert result.littles_law() is None
