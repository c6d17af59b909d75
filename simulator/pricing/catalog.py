"""Price catalogs: one YAML file of public prices per provider and region.

A catalog maps a price key (a meter, such as ``lambda.requests``) to its
tiered price, free allowance, source and date. Scenarios may override any
price, or add one the catalog lacks, under ``pricing.overrides``.
"""

import datetime
import difflib
from importlib import resources
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PRICE_KEYS: tuple[str, ...] = (
    "lambda.requests",
    "lambda.duration-x86",
    "lambda.duration-arm64",
    "lambda.provisioned-concurrency-x86",
    "lambda.provisioned-concurrency-arm64",
    "lambda.provisioned-duration-x86",
    "lambda.provisioned-duration-arm64",
    "apigw.rest.requests",
    "apigw.http.requests",
    "apigw.websocket.messages",
    "apigw.websocket.connection-minutes",
    "apigw.cache.0.5gb-hours",
    "apigw.cache.1.6gb-hours",
    "apigw.cache.6.1gb-hours",
    "apigw.cache.13.5gb-hours",
    "apigw.cache.28.4gb-hours",
    "apigw.cache.58.2gb-hours",
    "apigw.cache.118gb-hours",
    "apigw.cache.237gb-hours",
    "transfer.internet-out",
    "transfer.inter-region",
    "transfer.cross-az",
    "nat.hours",
    "nat.processed",
    "sqs.standard.requests",
    "sqs.fifo.requests",
    "sns.publishes",
    "sns.http-deliveries",
    "sns.sqs-deliveries",
    "sns.lambda-deliveries",
    "eventbridge.events",
    "eventbridge.archive-processed",
    "eventbridge.archive-storage",
    "kinesis.shard-hours",
    "kinesis.put-units",
    "kinesis.on-demand.stream-hours",
    "kinesis.on-demand.in",
    "kinesis.on-demand.out",
    "msk.broker-hours",
    "msk.storage",
    "mq.instance-hours",
    "alb.hours",
    "alb.lcu-hours",
    "compute.vcpu-hours",
    "compute.gb-hours",
)
"""The price keys catalogs use; a region may lack some of them."""

_CATALOG_PACKAGE = "simulator.pricing"
_CATALOG_FOLDER = "catalogs"
_OVERRIDE_SOURCE = "scenario override"
_OVERRIDE_DATE = "not given"


class UnknownRegionError(ValueError):
    """No catalog exists for the requested provider and region."""


class MissingPriceError(KeyError):
    """A price key is neither in the catalog nor fully defined by an override."""

    def __init__(self, message: str, key: str, provider: str, region: str) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.provider = provider
        self.region = region

    def __str__(self) -> str:
        return self.message


class Tier(BaseModel):
    """One band of a tiered price.

    Attributes:
        up_to: Cumulative monthly units up to which this band applies; ``None``
            for the last, unbounded band.
        usd: Price in USD of ``per`` units within this band.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    up_to: float | None = Field(gt=0)
    usd: float = Field(ge=0)


def _check_tiers(tiers: list[Tier]) -> None:
    """Raise ValueError unless the tiers are ordered and end unbounded."""
    if not tiers:
        raise ValueError("tiers must not be empty")

    # Bounds must grow strictly; only the last band is open-ended, so that any
    # quantity has a price.
    previous = 0.0
    for index, tier in enumerate(tiers):
        is_last = index == len(tiers) - 1
        if tier.up_to is None:
            if not is_last:
                raise ValueError(
                    f"only the last tier may have up_to null (tier {index})"
                )
            continue
        if is_last:
            raise ValueError("the last tier must have up_to null (unbounded)")
        if tier.up_to <= previous:
            raise ValueError(
                f"tier up_to must increase strictly: {tier.up_to:g} after {previous:g}"
            )
        previous = tier.up_to


class Price(BaseModel):
    """The price of one meter in one region.

    Attributes:
        description: What is metered, in words.
        unit: The metered unit, such as ``request``, ``GB-second`` or ``GB``.
        per: How many units ``usd`` in each tier is quoted for.
        tiers: Price bands by cumulative monthly units, account-wide.
        free_allowance: Units a month the free tier covers, account-wide.
        free_pool: Name of an allowance shared by several meters (Lambda
            GB-seconds across architectures); ``None`` when not shared.
        free_note: Where the free allowance comes from and its conditions.
        source: Source keys and names, as in PRICES.md.
        date: Date of the source, as precise as known.
        verified: False when only one secondary source gives the figure.
        note: Caveats, such as tiers that were not found.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    description: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    per: float = Field(default=1, gt=0)
    tiers: list[Tier]
    free_allowance: float = Field(default=0, ge=0)
    free_pool: str | None = None
    free_note: str | None = None
    source: str = Field(min_length=1)
    date: str = Field(min_length=1)
    verified: bool
    note: str | None = None

    @model_validator(mode="after")
    def _tiers_are_ordered(self) -> Self:
        _check_tiers(self.tiers)
        return self


class Catalog(BaseModel):
    """All prices of one provider in one region.

    Attributes:
        provider: Cloud provider code, such as ``aws``.
        region: Region code, such as ``ap-south-1``.
        region_name: Human name of the region.
        currency: Always ``USD``.
        taken: Date the figures were taken.
        prices: Prices by price key.
        note: Caveats about the catalog as a whole.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(min_length=1)
    region: str = Field(min_length=1)
    region_name: str = Field(min_length=1)
    currency: Literal["USD"]
    taken: datetime.date
    prices: dict[str, Price]
    note: str | None = None

    @model_validator(mode="after")
    def _pools_agree(self) -> Self:
        _check_pools(self.prices)
        return self


def _check_pools(prices: dict[str, Price]) -> None:
    """Raise ValueError if meters sharing a free pool disagree on its size."""
    allowances: dict[str, tuple[str, float]] = {}
    for key, price in prices.items():
        if price.free_pool is None:
            continue

        first = allowances.setdefault(price.free_pool, (key, price.free_allowance))
        if first[1] != price.free_allowance:
            raise ValueError(
                f"free_pool '{price.free_pool}' has different free allowances: "
                f"{first[0]} {first[1]:g}, {key} {price.free_allowance:g}; "
                "give every meter of the pool the same free_allowance"
            )


class PriceOverride(BaseModel):
    """A scenario's change to one price, merged over the catalog entry.

    Either ``usd`` (one flat price per ``per`` units) or ``tiers`` replaces the
    catalog's tiers; the other fields replace theirs. A key the catalog lacks
    needs at least ``unit`` and ``usd`` or ``tiers``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    usd: float | None = Field(default=None, ge=0)
    per: float | None = Field(default=None, gt=0)
    unit: str | None = Field(default=None, min_length=1)
    tiers: list[Tier] | None = None
    free_allowance: float | None = Field(default=None, ge=0)
    source: str | None = Field(default=None, min_length=1)
    date: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_price_form(self) -> Self:
        if self.usd is not None and self.tiers is not None:
            raise ValueError("give either usd or tiers, not both")

        if self.tiers is not None:
            _check_tiers(self.tiers)

        return self

    @property
    def sets_price(self) -> bool:
        """Whether the override replaces the catalog's rates."""
        return self.usd is not None or self.tiers is not None


def available_regions(provider: str = "aws") -> list[str]:
    """List the regions that have a catalog for a provider.

    Args:
        provider: Provider code.

    Returns:
        Region codes, sorted.
    """
    prefix = f"{provider}-"
    folder = resources.files(_CATALOG_PACKAGE).joinpath(_CATALOG_FOLDER)
    names = [entry.name for entry in folder.iterdir() if entry.is_file()]
    return sorted(
        name.removeprefix(prefix).removesuffix(".yaml")
        for name in names
        if name.startswith(prefix) and name.endswith(".yaml")
    )


def load_catalog(region: str, provider: str = "aws") -> Catalog:
    """Load the packaged price catalog of a region.

    Args:
        region: Region code, such as ``us-east-1``.
        provider: Provider code.

    Returns:
        The validated catalog.

    Raises:
        UnknownRegionError: No catalog exists for the region.
        ValueError: The catalog file is malformed.
    """
    regions = available_regions(provider)
    if region not in regions:
        known = ", ".join(regions) if regions else "none"
        raise UnknownRegionError(
            f"no price catalog for {provider} region '{region}'; "
            f"available regions: {known}"
        )

    file_name = f"{provider}-{region}.yaml"
    resource = resources.files(_CATALOG_PACKAGE).joinpath(_CATALOG_FOLDER, file_name)
    data: Any = yaml.safe_load(resource.read_text(encoding="utf-8"))

    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as error:
        raise ValueError(f"price catalog {file_name} is invalid: {error}") from error

    # The file name is what callers ask for, so its content must agree with it.
    if (catalog.provider, catalog.region) != (provider, region):
        raise ValueError(
            f"price catalog {file_name} declares {catalog.provider} "
            f"{catalog.region}, not {provider} {region}"
        )

    return catalog


def _missing_reason(key: str) -> str:
    """Explain why a key has no price, suggesting a close known key."""
    if key in PRICE_KEYS:
        return "not published in the sources we have"

    close = difflib.get_close_matches(key, PRICE_KEYS, n=1)
    if close:
        return f"not a known price key; did you mean '{close[0]}'?"
    return "not a known price key"


def _missing_price(catalog: Catalog, key: str, extra: str = "") -> MissingPriceError:
    """Build the error for a price that neither catalog nor override defines."""
    message = (
        f"no price '{key}' in the {catalog.provider} {catalog.region} catalog "
        f"({_missing_reason(key)}); set it under pricing.overrides{extra}"
    )
    return MissingPriceError(message, key, catalog.provider, catalog.region)


def _as_override(key: str, override: PriceOverride | float) -> PriceOverride:
    """Turn a plain number into a flat-price override."""
    if isinstance(override, PriceOverride):
        return override

    # bool is an int to Python, but a price of True is a mistake.
    if isinstance(override, bool) or not isinstance(override, int | float):
        raise TypeError(
            f"override of '{key}' must be a number or a PriceOverride, got {override!r}"
        )
    return PriceOverride(usd=float(override))


def _new_price(catalog: Catalog, key: str, override: PriceOverride) -> Price:
    """Build a price the catalog lacks entirely from an override."""
    if override.unit is None or not override.sets_price:
        raise _missing_price(catalog, key, " with at least unit and usd (or tiers)")

    tiers = override.tiers or [Tier(up_to=None, usd=override.usd or 0.0)]
    return Price(
        description=f"{key} (defined by the scenario)",
        unit=override.unit,
        per=override.per or 1.0,
        tiers=tiers,
        free_allowance=override.free_allowance or 0.0,
        source=override.source or _OVERRIDE_SOURCE,
        date=override.date or _OVERRIDE_DATE,
        verified=False,
    )


def resolve_price(
    catalog: Catalog, key: str, override: PriceOverride | float | None = None
) -> Price:
    """Give the price of a key, with a scenario's override merged in.

    A plain number replaces the catalog's tiers with one flat price per the
    entry's ``per`` units. An overridden rate is no longer backed by the
    catalog's sources, so its ``verified`` flag is False.

    Args:
        catalog: The region's catalog.
        key: Price key, such as ``sqs.fifo.requests``.
        override: The scenario's override of this key, if any.

    Returns:
        The price to use.

    Raises:
        MissingPriceError: Neither the catalog nor the override defines it.
        ValueError: The override changes ``per`` or ``unit`` without a rate.
    """
    base = catalog.prices.get(key)
    if override is None:
        if base is None:
            raise _missing_price(catalog, key)
        return base

    merged = _as_override(key, override)
    if base is None:
        return _new_price(catalog, key, merged)

    # A new per or unit changes what the catalog's rates mean, so it must come
    # with new rates.
    if (merged.per is not None or merged.unit is not None) and not merged.sets_price:
        raise ValueError(
            f"override of '{key}' changes per or unit; give usd or tiers with it"
        )

    changes: dict[str, Any] = {}
    if merged.sets_price:
        tiers = merged.tiers or [Tier(up_to=None, usd=merged.usd or 0.0)]
        changes.update(
            tiers=tiers,
            per=merged.per or base.per,
            unit=merged.unit or base.unit,
            source=merged.source or _OVERRIDE_SOURCE,
            date=merged.date or _OVERRIDE_DATE,
            verified=False,
            note=None,
        )
    else:
        changes.update(
            source=merged.source or base.source, date=merged.date or base.date
        )

    if merged.free_allowance is not None:
        changes.update(
            free_allowance=merged.free_allowance, free_note="set by the scenario"
        )

    return Price.model_validate(base.model_dump() | changes)
