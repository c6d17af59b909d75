"""Checks across a scenario's sections that a schema cannot express.

A call must name a service and a link of its own topology, the link's pattern
must be able to call that kind of service, and services may not call each other
round a cycle (a request would never finish).
"""

from collections.abc import Iterator
from typing import Any

from simulator.messaging.references import check_channels
from simulator.patterns import HOPS
from simulator.scenario.model import (
    CallStep,
    ChoiceStep,
    ContainerServiceConfig,
    LambdaServiceConfig,
    ParallelStep,
    RepeatStep,
    Scenario,
    Topology,
)
from simulator.scenario.yamlfile import PathKey


def _calls(steps: list[Any], path: PathKey) -> Iterator[tuple[CallStep, PathKey]]:
    for index, step in enumerate(steps):
        if isinstance(step, CallStep):
            yield step, path + (index,)
        elif isinstance(step, ParallelStep):
            yield from _calls(step.parallel, path + (index, "parallel"))
        elif isinstance(step, ChoiceStep):
            for branch_index, branch in enumerate(step.choice):
                branch_path = path + (index, "choice", branch_index, "steps")
                yield from _calls(branch.steps, branch_path)
        elif isinstance(step, RepeatStep):
            yield from _calls(step.repeat.steps, path + (index, "repeat", "steps"))


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
                message = _check_call(topology, call, owner)
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
        problems += _check_lambda_concurrency(name, topology)
        problems += check_channels(name, topology)
    return problems


# AWS keeps this much of an account's concurrency for unreserved functions.
_MINIMUM_UNRESERVED = 100


def _check_lambda_concurrency(
    name: str, topology: Topology
) -> list[tuple[PathKey, str]]:
    # Reserved concurrency, and the provisioned instances of functions without
    # a reservation, are set aside from the account's concurrency; AWS keeps
    # at least 100 for the functions without a reservation.
    set_aside = 0
    unreserved = False
    for config in topology.services.values():
        if isinstance(config, LambdaServiceConfig):
            reserved = config.concurrency_limit
            unreserved = unreserved or reserved is None
            set_aside += (
                reserved if reserved is not None else config.provisioned_concurrency
            )

    account = topology.lambda_account_concurrency
    left = account - set_aside
    if left < 0 or (unreserved and set_aside and left < _MINIMUM_UNRESERVED):
        return [
            (
                ("topologies", name, "lambda_account_concurrency"),
                f"reserved and provisioned Lambda concurrency add up to "
                f"{set_aside}, which leaves {left} of the account's {account} "
                f"to the functions without a reservation; AWS keeps at least "
                f"{_MINIMUM_UNRESERVED} for them (lower the reservations or "
                "raise lambda_account_concurrency)",
            )
        ]
    return []


def link_ends(topology: Topology) -> dict[str, tuple[list[str], list[str]]]:
    """Return, per link that carries calls, who calls over it and whom.

    Callers are service names or ``entrypoint``; both lists keep the order in
    which the topology first names them.
    """
    ends: dict[str, tuple[list[str], list[str]]] = {}
    for owner, steps, _ in _step_owners("", topology):
        for call, _ in _calls(steps, ()):
            if call.via is None or call.via not in topology.links:
                continue
            callers, callees = ends.setdefault(call.via, ([], []))
            if owner not in callers:
                callers.append(owner)
            if call.call not in callees:
                callees.append(call.call)
    return ends


def _check_balancing(topology: Topology, call: CallStep, link: Any) -> str | None:
    # A link that balances itself addresses replicas, which only a container
    # service with a queue per replica has.
    if link.load_balancing is None:
        return None
    service = topology.services[call.call]
    if not isinstance(service, ContainerServiceConfig):
        return (
            f"link {call.via!r} balances across replicas (load_balancing), but "
            f"{call.call!r} is a {service.kind} service, which has none"
        )
    if not service.load_balancing.per_replica:
        return (
            f"link {call.via!r} balances across the replicas of {call.call!r} "
            "(load_balancing), which needs a queue per replica; give "
            f"{call.call!r} a per-replica load_balancing policy (round-robin, "
            "random, least-request, power-of-two-choices), not shared-queue"
        )
    return None


def _check_call(topology: Topology, call: CallStep, owner: str) -> str | None:
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

    callers = HOPS[link.pattern].caller_kinds
    caller_kind = "entrypoint" if owner == "entrypoint" else None
    if owner in topology.services:
        caller_kind = topology.services[owner].kind
    if callers is not None and caller_kind not in callers:
        return (
            f"link {call.via!r} is {link.pattern}, which carries calls from "
            f"{' or '.join(callers)} callers; {owner!r} is a {caller_kind} service"
        )
    return _check_balancing(topology, call, link)


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
