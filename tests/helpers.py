"""Helpers the test modules share: paths, the CLI, tiny topologies, a probe."""

import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from simulator.cli import main
from simulator.engine.runtime import Process, Request, RequestFailed
from simulator.engine.simulation import TopologyRun
from simulator.scenario.loader import load_scenario_text

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
DATA = Path(__file__).resolve().parent / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"


def isc_sim_command() -> list[str]:
    """Return the installed ``isc-sim`` console script as a command line.

    The script next to the running interpreter is the one this package
    installed (a virtualenv's ``bin``); PATH is the fallback.
    """
    beside = Path(sys.executable).with_name("isc-sim")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("isc-sim")
    if found is None:
        pytest.fail("the isc-sim console script is not installed")
    return [found]


def invoke(*args: str) -> Result:
    """Run the CLI in this process, with stdout and stderr kept apart.

    The CLI points the ``simulator`` logger at its (temporary) stderr; that
    setup is undone afterwards so later tests see logging as it was.
    """
    package = logging.getLogger("simulator")
    saved = (package.handlers[:], package.level, package.propagate)
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        package.handlers[:], package.level, package.propagate = saved


def topology_run(text: str, topology: str = "t", replication: int = 0) -> TopologyRun:
    """Build (not run) one topology of a scenario written as YAML text."""
    scenario = load_scenario_text(text, "<test>")
    return TopologyRun(scenario, topology, replication)


@dataclass(frozen=True)
class Outcome:
    """What happened to one request at the entrypoint."""

    id: int
    start_s: float
    end_s: float
    cause: str | None
    measured: bool

    @property
    def latency_s(self) -> float:
        return self.end_s - self.start_s


def trace(run: TopologyRun) -> list[Outcome]:
    """Record every request's outcome at the entrypoint, in completion order.

    The probe wraps the compiled entrypoint steps; the model is not changed.
    The returned list fills up while the run runs.
    """
    outcomes: list[Outcome] = []
    steps = list(run.entry)
    env = run.env

    def traced(request: Request) -> Process:
        try:
            for step in steps:
                yield from step(request)
        except RequestFailed as failure:
            outcomes.append(
                Outcome(
                    request.id,
                    request.start_s,
                    env.now,
                    failure.cause,
                    request.measured,
                )
            )
            raise
        outcomes.append(
            Outcome(request.id, request.start_s, env.now, None, request.measured)
        )

    run.entry = [traced]
    return outcomes
