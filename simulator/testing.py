"""Guarding scenarios with property-based tests: strategies and assertions.

Keep a test next to a scenario file so that a regression (a new hop, a changed
timeout, a smaller fleet) fails CI::

    from hypothesis import given, settings
    from simulator.testing import arrival_rates, assert_latency_below, load, run
    from simulator.testing import vary

    SCENARIO = load("checkout.yaml")

    @settings(max_examples=10, deadline=None)
    @given(rate=arrival_rates(max_rps=40))
    def test_p99_stays_under_200ms(rate):
        result = run(vary(SCENARIO, "workload.arrivals.rate", rate))
        assert_latency_below(result, "checkout", "p99", 0.200)

What is here:

* running: :func:`load`, :func:`vary` (one setting changed, validated again),
  :func:`run`, :func:`figure`;
* hypothesis strategies: :func:`arrival_rates`, :func:`seeds`,
  :func:`variants` (a user's scenario with one setting drawn), and
  :func:`scenarios` (small generated scenarios, for properties of the engine);
* assertions: :func:`assert_latency_below`, :func:`assert_error_rate_below`,
  :func:`assert_cost_below`, :func:`assert_throughput_at_least`; each compares
  the estimate (the mean over replications) with the target, or with
  ``upper_bound=True`` the top of its 95 % interval (stricter: the target
  must hold with 95 % confidence), and says which figure failed and by how
  much;
* :func:`minimum_latency_s`: the fixed delays on a topology's path, a floor no
  successful request can beat.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from simulator.results import Estimate, TopologySummary
from simulator.runner import ScenarioResult, run_scenario
from simulator.scenario.base import distribution_minimum
from simulator.scenario.loader import load_scenario, load_scenario_text
from simulator.scenario.model import (
    CallStep,
    ChoiceStep,
    ComputeStep,
    ParallelStep,
    RepeatStep,
    Scenario,
)

_PERCENTILE_NAMES = {
    "p50": "p50",
    "p90": "p90",
    "p95": "p95",
    "p99": "p99",
    "p99.9": "p999",
    "p999": "p999",
    "max": "max",
    "mean": "mean",
}


# Running


def load(path: str | Path) -> Scenario:
    """Load and validate a scenario file (errors name file, line and rule)."""
    return load_scenario(path)


def vary(scenario: Scenario, setting: str, value: Any) -> Scenario:
    """Return the scenario with one setting changed and validated again.

    Args:
        scenario: The scenario to start from.
        setting: A dotted path as in the file, list items by index:
            ``workload.arrivals.rate``,
            ``topologies.direct.services.orders.replicas``.
        value: The new value, as it could be written in the file (``"50/s"``)
            or in base units (seconds, bytes, per second, dollars).

    Raises:
        KeyError: The path does not lead to a setting.
        simulator.errors.ScenarioError: The changed scenario is invalid.
    """
    data = scenario.model_dump(mode="json", exclude_unset=True)
    keys = setting.split(".")
    parent: Any = data
    for key in keys[:-1]:
        parent = parent[int(key)] if isinstance(parent, list) else parent[key]
    last = keys[-1]
    if isinstance(parent, list):
        parent[int(last)] = value
    else:
        parent[last] = value

    text = yaml.safe_dump(data, sort_keys=False)
    return load_scenario_text(text, f"{scenario.name} with {setting} = {value}")


def run(
    scenario: Scenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
) -> ScenarioResult:
    """Simulate every topology of a scenario, as ``isc-sim run`` does."""
    changes: dict[str, Any] = {}
    if seed is not None:
        changes["seed"] = seed
    if replications is not None:
        changes["run"] = scenario.run.model_copy(update={"replications": replications})
    return run_scenario(scenario.model_copy(update=changes), scenario.name, workers)


def _summary(result: ScenarioResult, topology: str) -> TopologySummary:
    for summary in result.topologies:
        if summary.name == topology:
            return summary
    known = ", ".join(s.name for s in result.topologies)
    raise KeyError(f"no topology {topology!r} in the result (topologies: {known})")


def figure(result: ScenarioResult, topology: str, name: str) -> Estimate:
    """Return one figure of a topology: mean, 95 % half-width, replications.

    ``name`` is a topology figure (``throughput_rps``, ``error_rate``,
    ``monthly_usd``, ``per_million_requests_usd``, ``in_flight_mean``) or a
    latency one (``p50`` ... ``p99.9``, ``max``, ``mean``, also written
    ``latency_s.p99``).
    """
    summary = _summary(result, topology)
    key = name.removeprefix("latency_s.")
    if key in _PERCENTILE_NAMES:
        return summary.latency[_PERCENTILE_NAMES[key]]
    if name in summary.figures:
        return summary.figures[name]
    raise KeyError(f"no figure {name!r}")


def _check(
    result: ScenarioResult,
    topology: str,
    name: str,
    label: str,
    target: float,
    upper_bound: bool,
    below: bool = True,
) -> None:
    estimate = figure(result, topology, name)
    half_width = estimate.half_width or 0.0
    bound = estimate.mean + half_width if below else estimate.mean - half_width
    checked = bound if upper_bound else estimate.mean
    if (checked <= target) if below else (checked >= target):
        return

    interval = "" if estimate.half_width is None else f" ±{estimate.half_width:.6g}"
    what = "upper 95 % bound" if upper_bound and below else "estimate"
    if upper_bound and not below:
        what = "lower 95 % bound"
    flagged = _summary(result, topology).unreliable
    key = f"latency_s.{_PERCENTILE_NAMES[name]}" if name in _PERCENTILE_NAMES else name
    note = " (flagged unreliable: run longer)" if key in flagged else ""
    raise AssertionError(
        f"topology {topology!r} of {result.scenario.name!r}: {label} = "
        f"{estimate.mean:.6g}{interval} over {estimate.n} replication(s); its "
        f"{what} {checked:.6g} is {'above' if below else 'below'} the target "
        f"{target:.6g}{note}"
    )


def assert_latency_below(
    result: ScenarioResult,
    topology: str,
    percentile: str,
    limit_s: float,
    *,
    upper_bound: bool = False,
) -> None:
    """Assert a latency percentile (``p50`` .. ``p99.9``, max, mean) is below a limit.

    Raises:
        AssertionError: It is not, with the figure, its interval and target.
    """
    if percentile not in _PERCENTILE_NAMES:
        raise KeyError(f"no latency figure {percentile!r}")
    _check(
        result, topology, percentile, f"latency {percentile} s", limit_s, upper_bound
    )


def assert_error_rate_below(
    result: ScenarioResult, topology: str, limit: float, *, upper_bound: bool = False
) -> None:
    """Assert the fraction of failed requests is at most ``limit``."""
    _check(result, topology, "error_rate", "error rate", limit, upper_bound)


def assert_cost_below(
    result: ScenarioResult,
    topology: str,
    monthly_usd: float | None = None,
    *,
    per_million_usd: float | None = None,
    upper_bound: bool = False,
) -> None:
    """Assert the monthly cost, or the cost per million requests, is at most a limit."""
    if monthly_usd is None and per_million_usd is None:
        raise ValueError("give monthly_usd, per_million_usd or both")
    if monthly_usd is not None:
        _check(result, topology, "monthly_usd", "monthly USD", monthly_usd, upper_bound)
    if per_million_usd is not None:
        _check(
            result,
            topology,
            "per_million_requests_usd",
            "USD per million requests",
            per_million_usd,
            upper_bound,
        )


def assert_throughput_at_least(
    result: ScenarioResult, topology: str, rps: float, *, upper_bound: bool = False
) -> None:
    """Assert the throughput is at least ``rps`` (``upper_bound``: its lower bound)."""
    _check(
        result,
        topology,
        "throughput_rps",
        "throughput req/s",
        rps,
        upper_bound,
        below=False,
    )


# What no request can beat


def minimum_latency_s(scenario: Scenario, topology: str) -> float:
    """Return the fixed delays on the topology's path: a floor on latency.

    The sum of the smallest durations of the compute steps and network legs a
    successful request must pass (the longest branch of a parallel step, the
    shortest of a choice, one pass of a repeat). Other patterns' overheads
    count as zero, so the floor stays a floor.
    """
    chosen = scenario.topologies[topology]

    def steps_floor(steps: Sequence[Any]) -> float:
        return sum(step_floor(step) for step in steps)

    def step_floor(step: Any) -> float:
        if isinstance(step, ComputeStep):
            return distribution_minimum(step.compute)
        if isinstance(step, CallStep):
            callee = chosen.services[step.call]
            legs = 0.0
            if step.via is not None:
                legs = 2 * distribution_minimum(chosen.links[step.via].network.latency)
            return legs + steps_floor(callee.all_steps())
        if isinstance(step, ParallelStep):
            return max(step_floor(branch) for branch in step.parallel)
        if isinstance(step, ChoiceStep):
            return min(steps_floor(branch.steps) for branch in step.choice)
        if isinstance(step, RepeatStep):
            return steps_floor(step.repeat.steps)
        return 0.0

    return steps_floor(chosen.entrypoint)


# Strategies


def arrival_rates(
    min_rps: float = 1.0, max_rps: float = 100.0
) -> st.SearchStrategy[float]:
    """Arrival rates per second from ``min_rps`` to ``max_rps``, bounds included."""
    return st.floats(
        min_value=min_rps, max_value=max_rps, allow_nan=False, allow_infinity=False
    )


def seeds() -> st.SearchStrategy[int]:
    """Scenario seeds."""
    return st.integers(min_value=0, max_value=2**32 - 1)


def variants(
    scenario: Scenario, setting: str, values: st.SearchStrategy[Any]
) -> st.SearchStrategy[Scenario]:
    """The scenario with ``setting`` drawn from ``values`` (see :func:`vary`)."""
    return values.map(lambda value: vary(scenario, setting, value))


_WORK_KINDS = ("constant", "exponential", "uniform", "lognormal")


@st.composite
def _work(draw: st.DrawFn, mean_s: float) -> dict[str, Any]:
    kind = draw(st.sampled_from(_WORK_KINDS))
    if kind == "constant":
        return {"kind": "constant", "value": mean_s}
    if kind == "exponential":
        return {"kind": "exponential", "mean": mean_s}
    if kind == "uniform":
        spread = draw(st.floats(0.0, 1.0)) * mean_s
        return {"kind": "uniform", "low": mean_s - spread, "high": mean_s + spread}
    sd = draw(st.floats(0.1, 2.0)) * mean_s
    return {"kind": "lognormal", "mean": mean_s, "sd": sd}


@st.composite
def _scenario(
    draw: st.DrawFn,
    max_services: int,
    max_utilisation: float,
    duration_s: float,
    replications: int,
    errors: bool,
    bounded_queues: bool,
    max_rate_per_s: float,
) -> Scenario:
    count = draw(st.integers(1, max_services))
    nested = draw(st.booleans())
    names = [f"s{i}" for i in range(count)]

    # Each service: its own work, its workers, maybe an error rate and a limit.
    services: dict[str, dict[str, Any]] = {}
    own_mean_s: dict[str, float] = {}
    for index, name in enumerate(names):
        mean_s = draw(st.floats(0.001, 0.05))
        own_mean_s[name] = mean_s
        service: dict[str, Any] = {
            "kind": "container",
            "concurrency": draw(st.integers(1, 4)),
            "steps": [{"compute": draw(_work(mean_s))}],
        }
        if nested and index + 1 < count:
            service["steps"].append({"call": names[index + 1], "via": "net"})
        if errors and draw(st.booleans()):
            service["error_rate"] = draw(st.floats(0.0, 0.2))
        if bounded_queues and draw(st.booleans()):
            service["queue_limit"] = draw(st.integers(0, 20))
        services[name] = service

    latency_s = draw(st.floats(0.0, 0.005))
    links = {"net": {"pattern": "network", "network": {"latency": latency_s}}}
    if nested:
        entrypoint = [{"call": names[0], "via": "net"}]
    else:
        entrypoint = [{"call": name, "via": "net"} for name in names]

    # The rate keeps every service under max_utilisation; a nested caller
    # holds its worker while its callee works, so its holding time adds up.
    holding_s: dict[str, float] = {}
    downstream_s = 0.0
    for name in reversed(names):
        holding_s[name] = own_mean_s[name] + (
            downstream_s + 2 * latency_s if nested else 0.0
        )
        downstream_s = holding_s[name]
    capacity_rps = min(
        services[n]["concurrency"] / holding_s[n] for n in names if holding_s[n] > 0
    )
    rate = min(draw(st.floats(0.05, max_utilisation)) * capacity_rps, max_rate_per_s)

    data = {
        "name": "generated",
        "seed": draw(seeds()),
        "run": {
            "duration": duration_s,
            "warmup": duration_s / 10,
            "drain": 600.0,
            "replications": replications,
        },
        "workload": {"arrivals": {"kind": "poisson", "rate": rate}},
        "topologies": {
            "t": {"services": services, "links": links, "entrypoint": entrypoint}
        },
    }
    return load_scenario_text(yaml.safe_dump(data, sort_keys=False), "<generated>")


def scenarios(
    *,
    max_services: int = 3,
    max_utilisation: float = 0.8,
    duration_s: float = 10.0,
    replications: int = 1,
    errors: bool = True,
    bounded_queues: bool = True,
    max_rate_per_s: float = 200.0,
) -> st.SearchStrategy[Scenario]:
    """Small generated scenarios with one topology ``t``.

    A chain of 1 to ``max_services`` container services, called one after the
    other from the entrypoint or each calling the next (thread-per-request),
    over a network link with a constant latency; work drawn from a constant,
    exponential, uniform or lognormal distribution; Poisson arrivals at a rate
    that keeps every service below ``max_utilisation`` and is at most
    ``max_rate_per_s``. Optionally error rates and bounded queues.
    """
    return _scenario(
        max_services,
        max_utilisation,
        duration_s,
        replications,
        errors,
        bounded_queues,
        max_rate_per_s,
    )
