"""Tiny one-topology scenarios for the pattern tests, and a probe on services.

Arrivals and work are constant unless a test says otherwise, so the instants
in the tests can be worked out by hand.
"""

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

from helpers import Outcome, topology_run, trace

from simulator.engine.runtime import Process, Request
from simulator.engine.simulation import ReplicationResult, TopologyRun

EXACT = 1e-9


def build(
    body: str,
    *,
    rate: str = "1/s",
    duration: str = "1.5s",
    warmup: str = "0s",
    drain: str = "60s",
    arrivals: str = "constant",
    request_size: str = "1000B",
    response_size: str = "1000B",
    seed: int = 3,
) -> TopologyRun:
    """Build topology ``t`` from its YAML body and the run settings."""
    topology = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    text = f"""\
name: patterns
seed: {seed}
run: {{duration: {duration}, warmup: {warmup}, drain: {drain}}}
workload:
  arrivals: {{kind: {arrivals}, rate: {rate}}}
  request_size: {request_size}
  response_size: {response_size}
topologies:
  t:
{topology}
"""
    return topology_run(text)


def simulate(run: TopologyRun) -> tuple[list[Outcome], ReplicationResult]:
    """Run with the entrypoint probe; outcomes sorted by request id."""
    outcomes = trace(run)
    result = run.run()
    return sorted(outcomes, key=lambda o: o.id), result


@dataclass
class Visit:
    """One request's stay in a service, as the probe saw it."""

    id: int
    start_s: float
    end_s: float | None
    deadline_s: float


def watch(run: TopologyRun, service: str) -> list[Visit]:
    """Record every call of a service's ``handle``: when it starts and ends.

    The probe wraps the service's ``handle``; ``end_s`` stays None while the
    request is still inside (or was never let go). The list fills up while the
    run runs.
    """
    visits: list[Visit] = []
    target = run.services[service]
    handle = target.handle

    def watched(request: Request) -> Process:
        visit = Visit(request.id, run.env.now, None, request.deadline_s)
        visits.append(visit)
        try:
            return (yield from handle(request))
        finally:
            visit.end_s = run.env.now

    target.handle = watched  # type: ignore[method-assign]
    return visits


def spans(visits: list[Visit]) -> Iterator[tuple[int, float, float | None]]:
    """Yield (id, start, end) of each visit, for compact comparisons."""
    for visit in visits:
        yield visit.id, visit.start_s, visit.end_s
