"""Checks that need the built topology: every meter it uses has a price.

A topology is built (not run) to learn which meters its components declare;
each must resolve in the region's catalog or in the scenario's overrides, and
every override must name a price that can be resolved.
"""

from simulator.engine.simulation import TopologyRun
from simulator.pricing.catalog import (
    MissingPriceError,
    UnknownRegionError,
    resolve_price,
)
from simulator.pricing.monthly import catalog_for, monthly_usage, price_overrides
from simulator.scenario.model import Scenario
from simulator.scenario.yamlfile import PathKey


def check_prices(scenario: Scenario) -> list[tuple[PathKey, str]]:
    """Return every price a topology needs but cannot resolve, with its place."""
    problems: list[tuple[PathKey, str]] = []
    for name, topology in scenario.topologies.items():
        pricing_path: PathKey = ("topologies", name, "pricing", "overrides")
        if topology.pricing is None:
            pricing_path = ("pricing",)

        try:
            catalog = catalog_for(scenario, name)
        except UnknownRegionError as error:
            problems.append((("pricing", "region"), str(error)))
            return problems

        overrides = price_overrides(scenario, name)
        built = TopologyRun(scenario, name, 0)
        meters = [
            usage.meter
            for usage in monthly_usage(built.result_with_declared(), scenario)
        ]

        for key in dict.fromkeys([*meters, *overrides]):
            path = _override_path(scenario, name, key) or pricing_path
            try:
                resolve_price(catalog, key, overrides.get(key))
            except MissingPriceError as error:
                problems.append((path, f"topology {name!r}: {error.args[0]}"))
            except ValueError as error:
                problems.append((path, f"topology {name!r}: {error}"))
    return problems


def _override_path(scenario: Scenario, name: str, key: str) -> PathKey | None:
    """Return where the override of ``key`` is written, so errors point at it."""
    changes = scenario.topologies[name].pricing
    if changes is not None and key in changes.overrides:
        return ("topologies", name, "pricing", "overrides", key)
    if key in scenario.pricing.overrides:
        return ("pricing", "overrides", key)
    return None
