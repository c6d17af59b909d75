"""Checks across a scenario's sections that a schema cannot express.

A call must name a service and a link of its own topology, the link's pattern
must be able to call that kind of service, and services may not call each other
round a cycle (a request would never finish).
"""

from collections.abc import Iterator
from typing import Any

from simulator.patterns import HOPS
from simulator.scenario.model import CallStep, ParallelStep, Scenario, Topology
from simulator.scenario.yamlfile import PathKey


def _calls(steps: list[Any], path: PathKey) -> Iterator[tuple[CallStep, PathKey]]:
    for index, step in enumerate(steps):
        if isinstance(step, CallStep):
            yield step, path + (index,)
        elif isinstance(step, ParallelStep):
            yield from _calls(step.parallel, path + (index, "parallel"))


def _step_owners(
    name: str, topology: Topology
) -> Iterator[tuple[str, list[Any], PathKey]]:
    base: PathKey = ("topologies", name)
    yield "entrypoint", topology.entrypoint, base + ("entrypoint",)
    for service_name, service in topology.services.items():
        if service.steps is not None:
            yield (
                service_name,
                service.steps,
                base + ("services", service_name, "steps"),
            )


def check_references(scenario: Scenario) -> list[tuple[PathKey, str]]:
    """Return every broken cross reference, with the path where it is written."""
    problems: list[tuple[PathKey, str]] = []
    for name, topology in scenario.topologies.items():
        for shared in [link for link in topology.links if link in topology.services]:
            problems.append(
                (
                    ("topologies", name, "links", shared),
                    f"{shared!r} names both a service and a link; the cost report "
                    "lists both by name, so give them different names",
                )
            )

        graph: dict[str, list[str]] = {}
        for owner, steps, path in _step_owners(name, topology):
            for call, call_path in _calls(steps, path):
                message = _check_call(topology, call)
                if message is None:
                    graph.setdefault(owner, []).append(call.call)
                else:
                    field = "call" if call.call not in topology.services else "via"
                    problems.append((call_path + (field,), message))

        cycle = _find_cycle(graph, list(topology.services))
        if cycle:
            problems.append(
                (
                    ("topologies", name, "services"),
                    f"services call each other in a cycle: {cycle}",
                )
            )
    return problems


def _check_call(topology: Topology, call: CallStep) -> str | None:
    if call.call not in topology.services:
        known = ", ".join(topology.services)
        return f"{call.call!r} is not a service of this topology (declared: {known})"

    if call.via is None:
        return None
    link = topology.links.get(call.via)
    if link is None:
        known = ", ".join(topology.links) or "none"
        return f"{call.via!r} is not a link of this topology (declared: {known})"

    kinds = HOPS[link.pattern].target_kinds
    target_kind = topology.services[call.call].kind
    if kinds is not None and target_kind not in kinds:
        return (
            f"link {call.via!r} is {link.pattern}, which calls "
            f"{' or '.join(kinds)} services; {call.call!r} is a {target_kind} service"
        )
    return None


def _find_cycle(graph: dict[str, list[str]], services: list[str]) -> str | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> str | None:
        if state.get(node) == 1:
            return " -> ".join(path[path.index(node) :] + [node])
        if state.get(node) == 2:
            return None
        state[node] = 1
        for callee in graph.get(node, []):
            found = visit(callee, path + [node])
            if found:
                return found
        state[node] = 2
        return None

    for service in services:
        found = visit(service, [])
        if found:
            return found
    return None
