"""Faults: what goes wrong with a service, and when.

A fault holds from ``start`` to ``end`` (times from the start of the run, the
warm-up included) on one replica, by index, or on every replica of the service.
Overlapping faults combine: slowdown factors multiply, added latencies add,
error rates combine as independent draws, and a replica is down while any
down fault holds.
"""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simulator.scenario.base import Constant, DistributionConfig, StrictModel
from simulator.scenario.types import Duration, Fraction


class FaultBase(StrictModel):
    """When a fault holds and where."""

    start: Duration = Field(description="When it begins, from the start of the run.")
    end: Duration = Field(description="When it ends (the replica recovers).")
    replica: int | None = Field(
        default=None,
        ge=0,
        description="The replica it hits, from 0. Omitted: the whole service.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> "FaultBase":
        if self.end <= self.start:
            raise ValueError("a fault needs start < end")
        return self


class SlowFault(FaultBase):
    """The replica works more slowly.

    Its work takes ``factor`` times longer, and each request holds its worker
    ``added_latency`` more.
    """

    kind: Literal["slow"]
    factor: float = Field(default=1.0, gt=0, description="Multiplies work times.")
    added_latency: DistributionConfig = Field(
        default=Constant(value=0.0),
        description="Extra time each request holds a worker, before its work.",
    )


class ErrorFault(FaultBase):
    """The replica fails a fraction of requests.

    They fail at once (cause ``failed``) when a worker takes them, without
    doing their work: a bad deployment answering 500s.
    """

    kind: Literal["errors"]
    error_rate: Fraction


class DownFault(FaultBase):
    """The replica is down, then restarts with empty queues.

    The requests it holds when it goes down fail (cause ``failed``). While it
    is down, ``refuse`` fails new requests at once (connection refused) and
    ``hang`` gives them no answer until it restarts, then fails them: a caller
    without a timeout waits that long.
    """

    kind: Literal["down"]
    mode: Literal["refuse", "hang"] = "refuse"


Fault = Annotated[SlowFault | ErrorFault | DownFault, Field(discriminator="kind")]
"""One fault of a service: slow, errors or down."""
