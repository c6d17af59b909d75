"""The plain network hop: latency and payload time on each leg, nothing else.

It is what a call is when no pattern is named, and the base other synchronous
patterns build on.
"""

from typing import Literal

from simulator.engine.hop import Hop, Payload
from simulator.engine.runtime import Process, Request
from simulator.engine.services import Service
from simulator.scenario.base import LinkBase


class NetworkLink(LinkBase):
    """A plain network link: ``network`` settings only."""

    pattern: Literal["network"]


Config = NetworkLink
"""The name every pattern module gives its settings model."""


class NetworkHop(Hop):
    """Request leg, the callee's work, response leg."""

    pattern = "network"

    def exchange(self, request: Request, target: Service, payload: Payload) -> Process:
        """Carry the request over the network, run it, carry the response back."""
        env = self.env
        network = self.network

        delay = network.leg(request, payload.request_bytes, response=False)
        if delay:
            yield env.timeout(delay)

        result = yield from target.handle(request)

        delay = network.leg(request, payload.response_bytes, response=True)
        if delay:
            yield env.timeout(delay)
        return result


HOP = NetworkHop
