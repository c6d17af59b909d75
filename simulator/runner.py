"""Running a scenario: every topology, every replication, serial or parallel.

Each (topology, replication) pair is an independent task whose random streams
depend only on the seed, the replication and the component names, so running
tasks in worker processes gives exactly the results of a serial run.
"""

import logging
import math
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from simulator import __version__
from simulator.engine.simulation import (
    ReplicationResult,
    planned_horizon_s,
    simulate,
)
from simulator.pricing.cost import CostBreakdown
from simulator.pricing.monthly import month_basis, price_replication
from simulator.results import TopologySummary, summarise
from simulator.scenario.model import Scenario

log = logging.getLogger("simulator.runner")

TaskProgress = Callable[[str, int, float], None]
"""Called with topology, replication and the simulated seconds reached."""


@dataclass
class ScenarioResult:
    """The result of a whole scenario run, from which every report is made."""

    scenario: Scenario
    source: str
    topologies: list[TopologySummary]
    tool_version: str = __version__


def _task(scenario: Scenario, topology: str, replication: int) -> ReplicationResult:
    return simulate(scenario, topology, replication)


def run_scenario(
    scenario: Scenario,
    source: str = "<scenario>",
    workers: int = 1,
    progress: TaskProgress | None = None,
) -> ScenarioResult:
    """Simulate every topology of a scenario and price each replication.

    Args:
        scenario: The validated scenario.
        source: Where it came from, for the report.
        workers: Processes to run replications in; 1 runs them in this process.
        progress: Optional callback as tasks advance.
    """
    tasks = [
        (name, replication)
        for name in scenario.topologies
        for replication in range(scenario.run.replications)
    ]
    log.info(
        "running %d topologies x %d replications with %d worker(s)",
        len(scenario.topologies),
        scenario.run.replications,
        workers,
    )

    results: list[ReplicationResult] = []
    horizon = planned_horizon_s(scenario)
    if workers <= 1 or len(tasks) == 1:
        for name, replication in tasks:
            report = None
            if progress is not None:
                report = lambda t, n=name, r=replication: progress(n, r, t)  # noqa: E731
            results.append(simulate(scenario, name, replication, report))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_task, scenario, name, rep) for name, rep in tasks]
            for future, (name, replication) in zip(futures, tasks, strict=True):
                results.append(future.result())
                if progress is not None:
                    progress(name, replication, horizon)

    summaries = []
    for name, topology in scenario.topologies.items():
        mine = [r for r in results if r.topology == name]
        costs: list[CostBreakdown] = [price_replication(r, scenario) for r in mine]
        # Closed-loop users set no rate: each replication's month is its own.
        rates = [r.arrived / r.window_s if r.window_s else 0.0 for r in mine]
        bases = [month_basis(scenario, name, rate) for rate in rates]
        basis = month_basis(scenario, name, math.fsum(rates) / len(rates))
        summaries.append(
            summarise(name, topology.description, mine, costs, basis, bases)
        )
    return ScenarioResult(scenario, source, summaries)
