"""Pricing: public price catalogs per region and the monthly cost of usage."""

from simulator.pricing.catalog import (
    PRICE_KEYS,
    Catalog,
    MissingPriceError,
    Price,
    PriceOverride,
    Tier,
    UnknownRegionError,
    available_regions,
    load_catalog,
    resolve_price,
)
from simulator.pricing.cost import (
    CostBreakdown,
    CostLine,
    Usage,
    bytes_to_gigabytes,
    price_usage,
)

__all__ = [
    "PRICE_KEYS",
    "Catalog",
    "CostBreakdown",
    "CostLine",
    "MissingPriceError",
    "Price",
    "PriceOverride",
    "Tier",
    "UnknownRegionError",
    "Usage",
    "available_regions",
    "bytes_to_gigabytes",
    "load_catalog",
    "price_usage",
    "resolve_price",
]
