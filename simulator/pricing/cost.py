"""Pricing of monthly usage: tiers and free allowances, account-wide.

Usage is counted per component and meter, but AWS bills tiers and free
allowances per account. So each meter's quantities are summed over all
components, the total is priced once, and the dollars are shared back to the
components in proportion to their quantities.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from simulator.pricing.catalog import Catalog, Price, PriceOverride, resolve_price

_BYTES_PER_GIGABYTE = {"binary": float(2**30), "decimal": 1e9}


@dataclass(frozen=True)
class Usage:
    """One component's monthly quantity of one meter.

    Attributes:
        component: Who uses the meter, free text such as ``orders (lambda)``.
        meter: A price key.
        quantity: Monthly quantity in the price's unit (not in ``per`` units).
    """

    component: str
    meter: str
    quantity: float


@dataclass(frozen=True)
class CostLine:
    """The monthly cost of one component on one meter.

    Attributes:
        component: Who uses the meter.
        meter: The price key.
        quantity: Monthly quantity in ``unit``.
        unit: The metered unit.
        unit_price_usd: Effective USD per one unit after tiers and free tier;
            0 when the quantity is 0.
        usd: Monthly cost in USD.
        free_units: Units of this line the free allowance covered.
        source: Source of the price.
        date: Date of the source.
        verified: Whether the price is backed by a verified source.
        overridden: Whether the scenario overrode the price.
    """

    component: str
    meter: str
    quantity: float
    unit: str
    unit_price_usd: float
    usd: float
    free_units: float
    source: str
    date: str
    verified: bool
    overridden: bool


@dataclass(frozen=True)
class CostBreakdown:
    """Monthly cost, line by line.

    Attributes:
        lines: One line per component and meter, in input order.
        monthly_usd: Sum of the lines.
    """

    lines: list[CostLine]
    monthly_usd: float

    def by_component(self) -> dict[str, float]:
        """Sum the monthly USD of each component, in order of appearance."""
        grouped: dict[str, list[float]] = {}
        for line in self.lines:
            grouped.setdefault(line.component, []).append(line.usd)

        return {component: math.fsum(usd) for component, usd in grouped.items()}


def bytes_to_gigabytes(
    n_bytes: float, convention: Literal["binary", "decimal"]
) -> float:
    """Convert bytes to gigabytes.

    Args:
        n_bytes: A byte count.
        convention: ``binary`` for 2**30 bytes per GB (how AWS bills data
            transfer), ``decimal`` for 10**9.

    Returns:
        The number of gigabytes.

    Raises:
        ValueError: Unknown convention or a negative byte count.
    """
    if convention not in _BYTES_PER_GIGABYTE:
        raise ValueError(
            f"unknown gigabyte convention {convention!r}; use 'binary' or 'decimal'"
        )

    if not n_bytes >= 0:
        raise ValueError(f"byte count must be 0 or more, got {n_bytes!r}")

    return n_bytes / _BYTES_PER_GIGABYTE[convention]


def _tiered_usd(price: Price, quantity: float) -> float:
    """Price a monthly quantity through the tiers, from the first unit."""
    parts: list[float] = []
    lower = 0.0
    for tier in price.tiers:
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        if upper > lower:
            parts.append((upper - lower) * tier.usd / price.per)

        if tier.up_to is None or quantity <= tier.up_to:
            break
        lower = tier.up_to

    return math.fsum(parts)


def _free_units(
    totals: Mapping[str, float], prices: Mapping[str, Price]
) -> dict[str, float]:
    """Units of each meter the free allowances cover, once per account.

    Meters in a free pool share one allowance, split in proportion to their
    totals when the pool's usage exceeds it.
    """
    free: dict[str, float] = {}
    pools: dict[str, list[str]] = {}
    for meter, total in totals.items():
        pool = prices[meter].free_pool
        if pool is None:
            free[meter] = min(total, prices[meter].free_allowance)
        else:
            pools.setdefault(pool, []).append(meter)

    for pool, meters in pools.items():
        allowances = {prices[meter].free_allowance for meter in meters}
        if len(allowances) > 1:
            listed = ", ".join(f"{m} {prices[m].free_allowance:g}" for m in meters)
            raise ValueError(
                f"free_pool '{pool}' has different free allowances ({listed}); "
                "override free_allowance on every meter of the pool"
            )

        allowance = prices[meters[0]].free_allowance
        pool_total = math.fsum(totals[meter] for meter in meters)
        for meter in meters:
            if pool_total <= allowance:
                free[meter] = totals[meter]
            else:
                free[meter] = allowance * totals[meter] / pool_total

    return free


def price_usage(
    usages: Sequence[Usage],
    catalog: Catalog,
    overrides: Mapping[str, PriceOverride | float],
    free_tier: bool = False,
) -> CostBreakdown:
    """Price a month of usage.

    Quantities of a meter are summed over all components; free allowances (if
    on) cover the first units of that total, the rest goes through the tiers,
    and the meter's cost is shared among components by quantity. Usages with
    the same component and meter are merged into one line.

    Args:
        usages: Monthly quantities per component and meter.
        catalog: The region's catalog.
        overrides: The scenario's price overrides by price key.
        free_tier: Whether to apply free allowances (off by default).

    Returns:
        The cost lines, in order of first appearance, and their sum.

    Raises:
        MissingPriceError: A meter has no price in the catalog or overrides.
        ValueError: A quantity is negative or not finite.
    """
    quantities: dict[tuple[str, str], float] = {}
    totals: dict[str, float] = {}
    for usage in usages:
        if not (math.isfinite(usage.quantity) and usage.quantity >= 0):
            raise ValueError(
                f"usage of '{usage.meter}' by '{usage.component}' must be a "
                f"finite quantity of 0 or more, got {usage.quantity!r}"
            )

        line_key = (usage.component, usage.meter)
        quantities[line_key] = quantities.get(line_key, 0.0) + usage.quantity
        totals[usage.meter] = totals.get(usage.meter, 0.0) + usage.quantity

    # Every meter in use needs a price, even at quantity 0, so a missing one is
    # reported before any arithmetic.
    prices = {
        meter: resolve_price(catalog, meter, overrides.get(meter)) for meter in totals
    }

    if free_tier:
        free = _free_units(totals, prices)
    else:
        free = {meter: 0.0 for meter in totals}

    meter_usd = {
        meter: _tiered_usd(prices[meter], total - free[meter])
        for meter, total in totals.items()
    }

    lines: list[CostLine] = []
    for (component, meter), quantity in quantities.items():
        price = prices[meter]
        share = quantity / totals[meter] if totals[meter] > 0 else 0.0
        usd = meter_usd[meter] * share
        lines.append(
            CostLine(
                component=component,
                meter=meter,
                quantity=quantity,
                unit=price.unit,
                unit_price_usd=usd / quantity if quantity > 0 else 0.0,
                usd=usd,
                free_units=free[meter] * share,
                source=price.source,
                date=price.date,
                verified=price.verified,
                overridden=meter in overrides,
            )
        )

    return CostBreakdown(lines=lines, monthly_usd=math.fsum(line.usd for line in lines))
