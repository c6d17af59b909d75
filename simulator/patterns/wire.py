"""What the REST and RPC hops share: encodings, connections, the call's legs.

A message size written in a scenario is the message's binary (protobuf-like)
size. An encoding says how many bytes go on the wire for it (a size factor
plus headers) and how long encoding and decoding take per KB on the wire; the
caller encodes the request and decodes the response, the callee decodes the
request and encodes the response, so a call pays four of them.

A new connection costs round trips before the first byte of a request can
leave: one for TCP's handshake, plus two for TLS 1.2 or one for TLS 1.3. Each
round trip is two one-way network latencies drawn from the link's network
settings (the handshake's own bytes are neither timed nor billed).

The hop records, for measured calls, where the time of a call went
(handshakes, serialisation, network latency, payload time), so a report can
say where the difference between two patterns comes from.
"""

import math
from dataclasses import replace
from typing import Literal

from pydantic import Field

from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.hop import Hop, Payload
from simulator.engine.runtime import Process, Request, RequestFailed, Runtime
from simulator.engine.services import Service
from simulator.scenario.base import Constant, DistributionConfig, LinkBase, StrictModel
from simulator.scenario.types import Size

Tls = Literal["none", "1.2", "1.3"]

_TLS_ROUND_TRIPS: dict[str, int] = {"none": 0, "1.2": 2, "1.3": 1}
_TCP_ROUND_TRIPS = 1
_BYTES_PER_KB = 1000.0


def handshake_round_trips(tls: Tls) -> int:
    """Return the round trips a new connection costs before it carries data."""
    return _TCP_ROUND_TRIPS + _TLS_ROUND_TRIPS[tls]


class Encoding(StrictModel):
    """How a message is put on the wire, and what that costs on each end."""

    size_factor: float = Field(
        default=1.0,
        gt=0,
        description="Bytes on the wire per byte of the message's binary size.",
    )
    header_size: Size = Field(
        default=0.0, description="Bytes each message carries besides its body."
    )
    encode_per_kb: DistributionConfig = Field(
        default=Constant(value=0.0),
        description="Time to encode one KB (1000 bytes) on the wire; drawn per "
        "message.",
    )
    decode_per_kb: DistributionConfig = Field(
        default=Constant(value=0.0),
        description="Time to decode one KB (1000 bytes) on the wire; drawn per "
        "message.",
    )


class WireConfig(LinkBase):
    """Settings of a hop that carries encoded messages over connections."""

    encoding: Encoding = Encoding()
    tls: Tls = Field(
        default="1.3", description="TLS version of new connections, or none."
    )


class WireFigures:
    """Where the time of the measured calls went, summed over calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.handshakes = 0
        self.handshake_s = 0.0
        self.serialisation_s = 0.0
        self.network_s = 0.0
        self.payload_s = 0.0
        self.wire_bytes = 0.0

    def report(self) -> dict[str, object]:
        """Return the figures per measured call."""
        calls = self.calls or 1
        return {
            "handshakes": self.handshakes,
            "handshakes_per_call": self.handshakes / calls,
            "wire_bytes_per_call": self.wire_bytes / calls,
            "time_per_call_s": {
                "handshake": self.handshake_s / calls,
                "serialisation": self.serialisation_s / calls,
                "network": self.network_s / calls,
                "payload": self.payload_s / calls,
            },
        }


class WireHop(Hop):
    """A call over a connection: connect, encode, carry, decode, both ways.

    Subclasses say how a connection is had (:meth:`connect`) and what request
    the callee receives (:meth:`callee_request`).
    """

    def __init__(self, name: str, config: WireConfig, runtime: Runtime) -> None:
        super().__init__(name, config, runtime)
        streams = runtime.streams
        encoding = config.encoding
        self.size_factor = encoding.size_factor
        self.header_bytes = encoding.header_size
        self.encode_per_kb = make_sampler(
            encoding.encode_per_kb, streams.get(f"link/{name}/encode")
        )
        self.decode_per_kb = make_sampler(
            encoding.decode_per_kb, streams.get(f"link/{name}/decode")
        )
        self.free_serialisation = is_zero(encoding.encode_per_kb) and is_zero(
            encoding.decode_per_kb
        )
        self.one_way = make_sampler(
            config.network.latency, streams.get(f"link/{name}/handshake")
        )
        self.round_trips = handshake_round_trips(config.tls)
        self.bandwidth = config.network.bandwidth
        self.figures = WireFigures()
        self.expired_on_arrival = 0

    def wire_bytes(self, message_bytes: float) -> float:
        """Return the bytes a message of this binary size takes on the wire."""
        return message_bytes * self.size_factor + self.header_bytes

    def handshake_s(self) -> float:
        """Draw the time a new connection takes before it carries data."""
        one_way = self.one_way
        return sum(one_way() + one_way() for _ in range(self.round_trips))

    def serialisation_s(self, wire_bytes: float) -> float:
        """Draw the time to encode a message on one end and decode it on the other."""
        if self.free_serialisation:
            return 0.0
        kilobytes = wire_bytes / _BYTES_PER_KB
        return (self.encode_per_kb() + self.decode_per_kb()) * kilobytes

    def connect(self, request: Request) -> Process:
        """Have a connection to send on; return the seconds spent getting it."""
        raise NotImplementedError

    def release(self, reusable: bool) -> None:
        """Give the connection back after a call; ``reusable`` if it ended well."""

    def callee_request(self, request: Request) -> Request:
        """Return the request as the callee receives it."""
        return request

    def leg(self, request: Request, wire_bytes: float, response: bool) -> float:
        """Time one leg (network and payload) and count it for the report."""
        delay = self.network.leg(request, wire_bytes, response=response)
        if request.measured:
            payload_s = wire_bytes / self.bandwidth if self.bandwidth else 0.0
            figures = self.figures
            figures.payload_s += payload_s
            figures.network_s += delay - payload_s
            figures.wire_bytes += wire_bytes
        return delay

    def carry(
        self,
        request: Request,
        target: Service,
        payload: Payload,
        callee_request: Request,
    ) -> Process:
        """Connect, send the request, run the callee, bring the response back.

        Raises:
            RequestFailed: The callee failed, or (cause ``timeout``) the
                request reached it after its deadline, so it did not start.
        """
        env = self.env
        measured = request.measured
        figures = self.figures

        # Connection set-up, then the request: encoded, carried, decoded.
        handshake_s = yield from self.connect(request)
        request_bytes = self.wire_bytes(payload.request_bytes)
        encode_s = self.serialisation_s(request_bytes)
        delay = encode_s + self.leg(request, request_bytes, response=False)
        if measured:
            figures.calls += 1
            figures.handshake_s += handshake_s
            figures.serialisation_s += encode_s
        if delay:
            yield env.timeout(delay)

        # A server does not start work whose deadline has already passed.
        if env.now >= callee_request.deadline_s:
            self.release(reusable=True)
            if measured:
                self.expired_on_arrival += 1
            raise RequestFailed("timeout", self.name)

        try:
            result = yield from target.handle(callee_request)
        except RequestFailed:
            self.release(reusable=True)
            raise

        response_bytes = self.wire_bytes(payload.response_bytes)
        decode_s = self.serialisation_s(response_bytes)
        delay = decode_s + self.leg(request, response_bytes, response=True)
        if measured:
            figures.serialisation_s += decode_s
        if delay:
            yield env.timeout(delay)
        self.release(reusable=True)
        return result

    def extra_report(self) -> dict[str, object]:
        """Handshakes, bytes on the wire and where the time of a call went."""
        return self.figures.report()


def without_deadline(request: Request) -> Request:
    """Return the request as a callee that receives no deadline sees it."""
    if math.isinf(request.deadline_s):
        return request
    return replace(request, deadline_s=math.inf)
