"""Compiling call graphs: scenario steps become generator functions.

Each step is compiled once, when the topology is built, into a closure that a
request runs with ``yield from``; nothing is interpreted per request.
"""

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import simpy

from simulator.engine.crn import make_request_sampler, uniform_for_requests
from simulator.engine.faults import Health
from simulator.engine.hop import Hop, Payload
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.engine.services import Service, Step
from simulator.scenario.model import (
    CallStep,
    ChoiceStep,
    ComputeStep,
    ParallelStep,
    PublishStep,
    RepeatStep,
    SendStep,
    Workload,
)

if TYPE_CHECKING:
    from simulator.messaging.system import Messaging


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
        self.health: Health | None = None
        self.messaging: Messaging | None = None

    def compile(
        self, steps: Sequence[Any], owner: str, health: Health | None = None
    ) -> list[Step]:
        """Compile a list of steps; ``owner`` names their random streams.

        Args:
            steps: The steps, as written in the scenario.
            owner: Names their random streams (``service/orders``).
            health: The worker pool's health, whose speed factor multiplies
                the work of compute steps (a pool slowed by a fault). Nested
                steps inherit it.
        """
        outer = self.health
        if health is not None:
            self.health = health
        try:
            return [
                self._one(step, f"{owner}/step{index}")
                for index, step in enumerate(steps)
            ]
        finally:
            self.health = outer

    def _one(self, step: Any, name: str) -> Step:
        if isinstance(step, ComputeStep):
            return self._compute(step, name)
        if isinstance(step, CallStep):
            return self._call(step)
        if isinstance(step, ParallelStep):
            return self._parallel(step, name)
        if isinstance(step, ChoiceStep):
            return self._choice(step, name)
        if isinstance(step, RepeatStep):
            return self._repeat(step, name)
        if isinstance(step, SendStep | PublishStep):
            # Asynchronous steps belong to the topology's channels.
            if self.messaging is None:
                raise TypeError(f"{step!r} needs the topology's channels")
            return self.messaging.compile(step, name, self.workload.request_size)
        raise TypeError(f"unknown step {step!r}")

    def _compute(self, step: ComputeStep, name: str) -> Step:
        env = self.env
        # Work follows the request (common random numbers across topologies).
        sample = make_request_sampler(step.compute, self.runtime.streams.seed_of(name))
        health = self.health
        if health is not None:

            def slowed(request: Request) -> Process:
                yield env.timeout(sample(request) * health.speed_factor)

            return slowed

        def compute(request: Request) -> Process:
            yield env.timeout(sample(request))

        # A service whose only step is this one waits on the sampler directly.
        compute.sampler = sample  # type: ignore[attr-defined]
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

        # The step returns the hop's own generator: no wrapper frame for every
        # resume of the call to pass through.
        def call(request: Request) -> Process:
            return hop.call(request, target, payload)

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
            except simpy.Interrupt:
                return None
            return None

        def parallel(request: Request) -> Process:
            processes = [env.process(branch_process(b, request)) for b in branches]
            try:
                yield env.all_of(processes)
            except simpy.Interrupt as interrupt:
                # The request was cancelled (or its replica went down): so is
                # every branch it started.
                for process in processes:
                    if process.is_alive:
                        process.interrupt(interrupt.cause)
                raise

            # The join waits for every branch; the first failure is the answer.
            for process in processes:
                if isinstance(process.value, RequestFailed):
                    raise process.value

        return parallel

    def _choice(self, step: ChoiceStep, name: str) -> Step:
        total = sum(branch.weight for branch in step.choice)
        bounds = list(accumulate(branch.weight / total for branch in step.choice))
        bounds[-1] = 1.0
        branches = [
            self.compile(branch.steps, f"{name}/branch{i}")
            for i, branch in enumerate(step.choice)
        ]
        # The branch follows the request, like work (common random numbers).
        draw = uniform_for_requests(self.runtime.streams.seed_of(f"{name}/choice"))

        def choice(request: Request) -> Process:
            for branch_step in branches[bisect_right(bounds, draw(request))]:
                yield from branch_step(request)

        return choice

    def _repeat(self, step: RepeatStep, name: str) -> Step:
        steps = self.compile(step.repeat.steps, name)
        again = step.repeat.again
        draw = uniform_for_requests(self.runtime.streams.seed_of(f"{name}/repeat"))

        def repeat(request: Request) -> Process:
            while True:
                for one in steps:
                    yield from one(request)
                if draw(request) >= again:
                    return

        return repeat
