"""From usage counted in a simulated window to a month's usage, then dollars.

Per-request meters (requests, GB-seconds, bytes) scale with the monthly volume:
the quantity per arrived request in the window times the requests of a month.
Time meters (hours) scale with the hours of a month. Replica-hours of
container services with an hourly price are replicas x hours of the month.
"""

from dataclasses import dataclass

from simulator.engine.simulation import ReplicationResult
from simulator.pricing.catalog import Catalog, PriceOverride, load_catalog
from simulator.pricing.cost import CostBreakdown, Usage, bytes_to_gigabytes, price_usage
from simulator.scenario.model import (
    ClosedUsers,
    ContainerServiceConfig,
    Pricing,
    Scenario,
)

_BYTE_METER_PREFIX = "transfer."


@dataclass(frozen=True)
class MonthBasis:
    """How a window is extrapolated to a month, as the report states it."""

    monthly_requests: float
    hours_per_month: float
    gigabyte: str
    free_tier: bool
    region: str


def topology_pricing(scenario: Scenario, topology: str) -> Pricing:
    """Return the scenario's pricing with one topology's changes applied."""
    return scenario.pricing.merged(scenario.topologies[topology].pricing)


def month_basis(
    scenario: Scenario, topology: str, offered_rps: float = 0.0
) -> MonthBasis:
    """Return the volume and conventions a topology's month is built on.

    Without ``monthly_requests`` the month's volume is the arrival rate over
    the month; closed-loop users have no set rate, so their measured offered
    rate (``offered_rps``) is used.
    """
    pricing = topology_pricing(scenario, topology)
    workload = scenario.workload
    monthly = workload.monthly_requests
    if monthly is None:
        arrivals = workload.arrivals
        rate = offered_rps if isinstance(arrivals, ClosedUsers) else arrivals.rate
        monthly = rate * pricing.hours_per_month * 3600.0
    return MonthBasis(
        monthly,
        pricing.hours_per_month,
        pricing.gigabyte,
        pricing.free_tier,
        pricing.region,
    )


def monthly_usage(result: ReplicationResult, scenario: Scenario) -> list[Usage]:
    """Extrapolate one replication's metered usage to a month."""
    offered_rps = result.arrived / result.window_s if result.window_s else 0.0
    basis = month_basis(scenario, result.topology, offered_rps)
    window_hours = result.window_s / 3600.0
    usages: list[Usage] = []

    for (component, meter), (quantity, scaling) in result.meters.items():
        if scaling == "request":
            per_request = quantity / result.arrived if result.arrived else 0.0
            monthly = per_request * basis.monthly_requests
        else:
            monthly = quantity / window_hours * basis.hours_per_month
        if meter.startswith(_BYTE_METER_PREFIX):
            monthly = bytes_to_gigabytes(monthly, basis.gigabyte)  # type: ignore[arg-type]
        usages.append(Usage(component, meter, monthly))

    for name, config in scenario.topologies[result.topology].services.items():
        if (
            isinstance(config, ContainerServiceConfig)
            and config.hourly_price is not None
        ):
            usages.append(
                Usage(
                    name,
                    _replica_hours_key(name),
                    config.replicas * basis.hours_per_month,
                )
            )
    return usages


def _replica_hours_key(service: str) -> str:
    return f"compute.{service}.replica-hours"


def price_overrides(
    scenario: Scenario, topology: str
) -> dict[str, PriceOverride | float]:
    """Return the topology's price overrides plus the services' hourly prices."""
    overrides: dict[str, PriceOverride | float] = dict(
        topology_pricing(scenario, topology).overrides
    )
    for name, config in scenario.topologies[topology].services.items():
        if (
            isinstance(config, ContainerServiceConfig)
            and config.hourly_price is not None
        ):
            overrides[_replica_hours_key(name)] = PriceOverride(
                usd=config.hourly_price,
                unit="replica-hour",
                source=f"scenario: services.{name}.hourly_price",
                date="scenario",
            )
    return overrides


def catalog_for(scenario: Scenario, topology: str) -> Catalog:
    """Return the catalog of the topology's provider and region."""
    pricing = topology_pricing(scenario, topology)
    return load_catalog(pricing.region, pricing.provider)


def price_replication(result: ReplicationResult, scenario: Scenario) -> CostBreakdown:
    """Return the monthly cost of one replication's usage."""
    pricing = topology_pricing(scenario, result.topology)
    return price_usage(
        monthly_usage(result, scenario),
        catalog_for(scenario, result.topology),
        price_overrides(scenario, result.topology),
        free_tier=pricing.free_tier,
    )
