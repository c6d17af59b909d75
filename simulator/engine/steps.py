"""Compiling call graphs: scenario steps become generator functions.

Each step is compiled once, when the topology is built, into a closure that a
request runs with ``yield from``; nothing is interpreted per request.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from simulator.engine.distributions import make_sampler
from simulator.engine.hop import Hop, Payload
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.engine.services import Service, Step
from simulator.scenario.model import CallStep, ComputeStep, ParallelStep, Workload


class StepCompiler:
    """Turns the steps of one topology into runnable closures."""

    def __init__(
        self,
        runtime: Runtime,
        services: Mapping[str, Service],
        hops: Mapping[str, Hop],
        workload: Workload,
    ) -> None:
        self.runtime = runtime
        self.env = runtime.env
        self.services = services
        self.hops = hops
        self.workload = workload

    def compile(self, steps: Sequence[Any], owner: str) -> list[Step]:
        """Compile a list of steps; ``owner`` names their random streams."""
        return [
            self._one(step, f"{owner}/step{index}") for index, step in enumerate(steps)
        ]

    def _one(self, step: Any, name: str) -> Step:
        if isinstance(step, ComputeStep):
            return self._compute(step, name)
        if isinstance(step, CallStep):
            return self._call(step)
        if isinstance(step, ParallelStep):
            return self._parallel(step, name)
        raise TypeError(f"unknown step {step!r}")

    def _compute(self, step: ComputeStep, name: str) -> Step:
        env = self.env
        sample = make_sampler(step.compute, self.runtime.streams.get(name))

        def compute(request: Request) -> Process:
            yield env.timeout(sample())

        return compute

    def _call(self, step: CallStep) -> Step:
        target = self.services[step.call]
        payload = Payload(
            step.request_size
            if step.request_size is not None
            else self.workload.request_size,
            step.response_size
            if step.response_size is not None
            else self.workload.response_size,
        )

        if step.via is None:
            # An ideal call: no network, no pattern; only the callee's work.
            return target.handle

        hop = self.hops[step.via]

        def call(request: Request) -> Process:
            return (yield from hop.call(request, target, payload))

        return call

    def _parallel(self, step: ParallelStep, name: str) -> Step:
        env = self.env
        branches = [
            self._one(branch, f"{name}/branch{i}")
            for i, branch in enumerate(step.parallel)
        ]

        def branch_process(branch: Step, request: Request) -> Process:
            try:
                yield from branch(request)
            except RequestFailed as failure:
                return failure
            return None

        def parallel(request: Request) -> Process:
            processes = [env.process(branch_process(b, request)) for b in branches]
            yield env.all_of(processes)

            # The join waits for every branch; the first failure is the answer.
            for process in processes:
                if isinstance(process.value, RequestFailed):
                    raise process.value

        return parallel
