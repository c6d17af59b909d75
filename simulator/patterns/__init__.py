"""The patterns a hop can be made with, one module each.

A pattern module defines ``Config``, the pydantic model of its link settings
(a subclass of :class:`simulator.scenario.base.LinkBase` whose ``pattern`` is a
literal), and ``HOP``, its :class:`simulator.engine.hop.Hop` subclass. Adding a
pattern means writing one module and listing it here.
"""

from types import ModuleType
from typing import Annotated, Any, Union

from pydantic import Field

from simulator.engine.hop import Hop
from simulator.patterns import api_gateway, lambda_invoke, mesh, network, rest, rpc

PATTERN_MODULES: tuple[ModuleType, ...] = (
    network,
    lambda_invoke,
    api_gateway,
    rest,
    rpc,
    mesh,
)

HOPS: dict[str, type[Hop]] = {
    module.HOP.pattern: module.HOP for module in PATTERN_MODULES
}
"""Each pattern's name in scenario files, and the hop class that makes it."""

LinkConfig: Any = Annotated[
    Union[tuple(module.Config for module in PATTERN_MODULES)],  # noqa: UP007
    Field(discriminator="pattern"),
]
"""The settings of a link: one of the patterns' models, chosen by ``pattern``."""
