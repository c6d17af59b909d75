"""Tests of the price catalogs and of pricing monthly usage."""

import math

import pytest
from pydantic import ValidationError

from simulator.pricing import (
    PRICE_KEYS,
    Catalog,
    MissingPriceError,
    Price,
    PriceOverride,
    Tier,
    UnknownRegionError,
    Usage,
    available_regions,
    bytes_to_gigabytes,
    load_catalog,
    price_usage,
    resolve_price,
)

ARTICLE_REQUESTS = 50_000_000
ARTICLE_GB_SECONDS = ARTICLE_REQUESTS * 0.300 * 0.125
ARTICLE_BYTES = 3 * 1024 * ARTICLE_REQUESTS
ARTICLE_OVERRIDES: dict[str, PriceOverride | float] = {
    "transfer.internet-out": 0.09,
    "lambda.duration-x86": 0.00001667,
}


@pytest.fixture(scope="module")
def mumbai() -> Catalog:
    return load_catalog("ap-south-1")


@pytest.fixture(scope="module")
def virginia() -> Catalog:
    return load_catalog("us-east-1")


def article_usage() -> list[Usage]:
    gigabytes = bytes_to_gigabytes(ARTICLE_BYTES, "binary")
    return [
        Usage("api (lambda)", "lambda.requests", ARTICLE_REQUESTS),
        Usage("api (lambda)", "lambda.duration-x86", ARTICLE_GB_SECONDS),
        Usage("gateway", "apigw.rest.requests", ARTICLE_REQUESTS),
        Usage("responses", "transfer.internet-out", gigabytes),
    ]


# The article's arithmetic, given its assumptions.


def test_article_figures_with_its_rounded_prices(mumbai: Catalog) -> None:
    breakdown = price_usage(article_usage(), mumbai, ARTICLE_OVERRIDES)
    lines = {line.meter: line for line in breakdown.lines}

    assert ARTICLE_GB_SECONDS == 1_875_000
    assert lines["lambda.requests"].usd == pytest.approx(10.00)
    assert lines["lambda.duration-x86"].usd == pytest.approx(31.25625)
    assert round(lines["lambda.duration-x86"].usd, 2) == 31.26
    lambda_usd = lines["lambda.requests"].usd + lines["lambda.duration-x86"].usd
    assert round(lambda_usd, 2) == 41.26
    assert lines["apigw.rest.requests"].usd == pytest.approx(175.00)
    assert lines["transfer.internet-out"].quantity == pytest.approx(143.0511474609375)
    assert round(lines["transfer.internet-out"].usd, 2) == 12.87


def test_article_transfer_in_decimal_gigabytes() -> None:
    assert bytes_to_gigabytes(ARTICLE_BYTES, "decimal") == pytest.approx(153.6)
    assert round(bytes_to_gigabytes(ARTICLE_BYTES, "binary"), 2) == 143.05


def test_article_with_the_mumbai_catalog(mumbai: Catalog) -> None:
    breakdown = price_usage(article_usage(), mumbai, {})
    lines = {line.meter: line for line in breakdown.lines}
    gigabytes = bytes_to_gigabytes(ARTICLE_BYTES, "binary")

    assert lines["lambda.duration-x86"].usd == pytest.approx(31.2500625)
    assert round(lines["lambda.duration-x86"].usd, 2) == 31.25
    assert lines["transfer.internet-out"].usd == pytest.approx(gigabytes * 0.1093)
    assert lines["transfer.internet-out"].unit_price_usd == pytest.approx(0.1093)
    assert not lines["apigw.rest.requests"].verified
    assert not any(line.overridden for line in breakdown.lines)
    assert breakdown.monthly_usd == pytest.approx(
        10.0 + 31.2500625 + 175.0 + gigabytes * 0.1093
    )


def test_overridden_lines_are_flagged(mumbai: Catalog) -> None:
    breakdown = price_usage(article_usage(), mumbai, ARTICLE_OVERRIDES)
    flagged = {line.meter: line.overridden for line in breakdown.lines}

    assert flagged == {
        "lambda.requests": False,
        "lambda.duration-x86": True,
        "apigw.rest.requests": False,
        "transfer.internet-out": True,
    }


# Tiers are account-wide.


def test_rest_api_tiers_at_400_million(virginia: Catalog) -> None:
    usage = [Usage("gateway", "apigw.rest.requests", 400_000_000)]
    breakdown = price_usage(usage, virginia, {})

    assert breakdown.monthly_usd == pytest.approx(333 * 3.50 + 67 * 2.80)
    assert breakdown.monthly_usd == pytest.approx(1353.10)


def test_tiers_span_components_pro_rata(virginia: Catalog) -> None:
    usage = [
        Usage("public", "apigw.rest.requests", 300_000_000),
        Usage("partner", "apigw.rest.requests", 100_000_000),
    ]
    breakdown = price_usage(usage, virginia, {})
    public, partner = breakdown.lines
    total = 333 * 3.50 + 67 * 2.80

    assert public.usd == pytest.approx(total * 0.75)
    assert partner.usd == pytest.approx(total * 0.25)
    assert public.usd + partner.usd == pytest.approx(breakdown.monthly_usd)
    assert public.unit_price_usd == pytest.approx(partner.unit_price_usd)
    assert breakdown.by_component() == {
        "public": pytest.approx(total * 0.75),
        "partner": pytest.approx(total * 0.25),
    }


def test_tiers_of_data_transfer_use_binary_terabytes(virginia: Catalog) -> None:
    usage = [Usage("cdn origin", "transfer.internet-out", 20_000)]
    breakdown = price_usage(usage, virginia, {})

    assert breakdown.monthly_usd == pytest.approx(10_240 * 0.09 + 9_760 * 0.085)


# Free allowances, once per account.


def test_free_tier_applies_once_per_account(virginia: Catalog) -> None:
    usage = [
        Usage("orders (lambda)", "lambda.requests", 800_000),
        Usage("billing (lambda)", "lambda.requests", 800_000),
    ]

    with_free = price_usage(usage, virginia, {}, free_tier=True)
    without_free = price_usage(usage, virginia, {})

    assert with_free.monthly_usd == pytest.approx(0.6 * 0.20)
    assert [line.free_units for line in with_free.lines] == pytest.approx(
        [500_000, 500_000]
    )
    assert [line.usd for line in with_free.lines] == pytest.approx([0.06, 0.06])
    assert without_free.monthly_usd == pytest.approx(1.6 * 0.20)
    assert [line.free_units for line in without_free.lines] == [0.0, 0.0]


def test_gb_second_allowance_is_shared_by_architectures(virginia: Catalog) -> None:
    usage = [
        Usage("x86 fn", "lambda.duration-x86", 300_000),
        Usage("arm fn", "lambda.duration-arm64", 300_000),
    ]
    breakdown = price_usage(usage, virginia, {}, free_tier=True)
    x86, arm = breakdown.lines

    assert x86.free_units + arm.free_units == pytest.approx(400_000)
    assert x86.usd == pytest.approx(100_000 * 0.0000166667)
    assert arm.usd == pytest.approx(100_000 * 0.0000133334)


def test_free_allowance_covers_the_first_units_before_tiers(
    virginia: Catalog,
) -> None:
    usage = [Usage("gateway", "apigw.rest.requests", 334_000_000)]
    breakdown = price_usage(usage, virginia, {}, free_tier=True)

    assert breakdown.monthly_usd == pytest.approx(333 * 3.50)


# Lines: order, merging, zero quantities, bad quantities.


def test_lines_keep_first_appearance_and_merge_repeats(virginia: Catalog) -> None:
    usage = [
        Usage("b", "sqs.standard.requests", 1_000_000),
        Usage("a", "lambda.requests", 0),
        Usage("b", "sqs.standard.requests", 1_000_000),
    ]
    breakdown = price_usage(usage, virginia, {})

    assert [(line.component, line.meter) for line in breakdown.lines] == [
        ("b", "sqs.standard.requests"),
        ("a", "lambda.requests"),
    ]
    assert breakdown.lines[0].quantity == 2_000_000
    assert breakdown.lines[0].usd == pytest.approx(0.80)
    assert breakdown.lines[1].usd == 0.0
    assert breakdown.lines[1].unit_price_usd == 0.0


@pytest.mark.parametrize("quantity", [-1.0, math.nan, math.inf])
def test_bad_quantities_are_rejected(virginia: Catalog, quantity: float) -> None:
    with pytest.raises(ValueError, match="orders"):
        price_usage([Usage("orders", "lambda.requests", quantity)], virginia, {})


def test_unknown_gigabyte_convention() -> None:
    with pytest.raises(ValueError, match="convention"):
        bytes_to_gigabytes(1.0, "metric")  # type: ignore[arg-type]


# Overrides.


def test_number_override_is_flat_per_catalog_unit(virginia: Catalog) -> None:
    price = resolve_price(virginia, "apigw.rest.requests", 3.0)

    assert price.per == 1_000_000
    assert price.tiers == [Tier(up_to=None, usd=3.0)]
    assert not price.verified
    assert price.source == "scenario override"
    assert price.free_allowance == 1_000_000


def test_tiered_override(virginia: Catalog) -> None:
    override = PriceOverride(
        tiers=[Tier(up_to=100, usd=0.10), Tier(up_to=None, usd=0.05)],
        source="enterprise agreement",
        date="2026-11",
    )
    usage = [Usage("egress", "transfer.internet-out", 300)]
    breakdown = price_usage(usage, virginia, {"transfer.internet-out": override})

    assert breakdown.monthly_usd == pytest.approx(100 * 0.10 + 200 * 0.05)
    assert breakdown.lines[0].source == "enterprise agreement"
    assert breakdown.lines[0].overridden


def test_override_of_free_allowance_only_keeps_the_rates(virginia: Catalog) -> None:
    price = resolve_price(
        virginia, "lambda.requests", PriceOverride(free_allowance=2_000_000)
    )

    assert price.tiers == virginia.prices["lambda.requests"].tiers
    assert price.free_allowance == 2_000_000
    assert price.verified


def test_override_adds_a_price_the_catalog_lacks(mumbai: Catalog) -> None:
    override = PriceOverride(usd=0.42, per=1_000_000, unit="request")
    usage = [Usage("queue", "sqs.standard.requests", 10_000_000)]
    breakdown = price_usage(usage, mumbai, {"sqs.standard.requests": override})

    assert breakdown.monthly_usd == pytest.approx(4.20)
    assert not breakdown.lines[0].verified


def test_override_of_a_missing_key_needs_a_unit(mumbai: Catalog) -> None:
    with pytest.raises(MissingPriceError, match="at least unit and usd"):
        resolve_price(mumbai, "sqs.fifo.requests", 0.5)


def test_override_rejects_usd_with_tiers() -> None:
    with pytest.raises(ValidationError, match="either usd or tiers"):
        PriceOverride(usd=1.0, tiers=[Tier(up_to=None, usd=1.0)])


def test_override_rejects_per_without_a_rate(virginia: Catalog) -> None:
    with pytest.raises(ValueError, match="per or unit"):
        resolve_price(virginia, "lambda.requests", PriceOverride(per=1000))


def test_override_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        PriceOverride.model_validate({"usd": 1.0, "currency": "EUR"})


# Errors that name what is wrong.


def test_missing_price_message(mumbai: Catalog) -> None:
    usage = [Usage("orders queue", "sqs.fifo.requests", 1_000_000)]

    with pytest.raises(MissingPriceError) as caught:
        price_usage(usage, mumbai, {})

    assert str(caught.value) == (
        "no price 'sqs.fifo.requests' in the aws ap-south-1 catalog "
        "(not published in the sources we have); set it under pricing.overrides"
    )
    assert caught.value.key == "sqs.fifo.requests"
    assert caught.value.region == "ap-south-1"


def test_misspelt_price_key_suggests_the_known_one(virginia: Catalog) -> None:
    with pytest.raises(MissingPriceError, match="did you mean 'lambda.requests'"):
        resolve_price(virginia, "lambda.request")


def test_unknown_region() -> None:
    with pytest.raises(UnknownRegionError) as caught:
        load_catalog("eu-west-9")

    assert "eu-west-9" in str(caught.value)
    assert "ap-south-1, us-east-1" in str(caught.value)


def make_price(tiers: list[Tier]) -> Price:
    return Price(
        description="d", unit="GB", tiers=tiers, source="s", date="2026", verified=True
    )


def test_price_tiers_must_increase_and_end_unbounded() -> None:
    unordered = [Tier(up_to=10, usd=1), Tier(up_to=5, usd=1), Tier(up_to=None, usd=1)]

    with pytest.raises(ValidationError, match="increase strictly"):
        make_price(unordered)
    with pytest.raises(ValidationError, match="last tier"):
        make_price([Tier(up_to=10, usd=1)])
    with pytest.raises(ValidationError, match="only the last"):
        make_price([Tier(up_to=None, usd=1), Tier(up_to=None, usd=1)])
    with pytest.raises(ValidationError, match="empty"):
        make_price([])


# The catalog files themselves.


def test_available_regions() -> None:
    assert available_regions() == ["ap-south-1", "us-east-1"]
    assert available_regions("gcp") == []


@pytest.mark.parametrize("region", ["us-east-1", "ap-south-1"])
def test_catalog_invariants(region: str) -> None:
    catalog = load_catalog(region)

    assert catalog.provider == "aws"
    assert catalog.region == region
    assert catalog.currency == "USD"
    assert set(catalog.prices) <= set(PRICE_KEYS)
    for key, price in catalog.prices.items():
        bounds = [tier.up_to for tier in price.tiers]
        assert bounds[-1] is None, key
        finite = [bound for bound in bounds[:-1] if bound is not None]
        assert finite == sorted(set(finite)), key
        assert price.source.strip(), key
        assert price.date.strip(), key
        assert isinstance(price.verified, bool), key
        assert price.free_allowance == 0 or price.free_note, key


# API Gateway cache sizes whose hourly price no source we have publishes.
UNPUBLISHED_CACHE_KEYS = {
    f"apigw.cache.{size}gb-hours"
    for size in ("1.6", "6.1", "13.5", "28.4", "58.2", "118")
}


def test_us_east_1_has_every_price_key(virginia: Catalog) -> None:
    assert list(virginia.prices) == [
        key for key in PRICE_KEYS if key not in UNPUBLISHED_CACHE_KEYS
    ]


def test_mumbai_lacks_what_the_sources_do_not_publish(mumbai: Catalog) -> None:
    assert set(mumbai.prices) == {
        "lambda.requests",
        "lambda.duration-x86",
        "lambda.duration-arm64",
        "lambda.provisioned-concurrency-x86",
        "lambda.provisioned-duration-x86",
        "apigw.rest.requests",
        "apigw.http.requests",
        "transfer.internet-out",
        "transfer.inter-region",
        "transfer.cross-az",
        "sns.sqs-deliveries",
        "sns.lambda-deliveries",
    }
    assert all(
        len(price.tiers) == 1
        for key, price in mumbai.prices.items()
        if key != "transfer.internet-out"
    )


def test_verified_flags_follow_prices_md(virginia: Catalog, mumbai: Catalog) -> None:
    unverified_virginia = {k for k, p in virginia.prices.items() if not p.verified}
    unverified_mumbai = {k for k, p in mumbai.prices.items() if not p.verified}

    provisioned = {
        "lambda.provisioned-concurrency-x86",
        "lambda.provisioned-duration-x86",
    }
    assert unverified_virginia == {
        "sns.sqs-deliveries",
        "sns.lambda-deliveries",
        *provisioned,
        "lambda.provisioned-concurrency-arm64",
        "lambda.provisioned-duration-arm64",
        # Fargate memory: secondary sources only (not in PRICES.md).
        "compute.gb-hours",
    }
    assert unverified_mumbai == {
        *provisioned,
        "apigw.rest.requests",
        "apigw.http.requests",
        "sns.sqs-deliveries",
        "sns.lambda-deliveries",
    }


def test_published_figures(virginia: Catalog, mumbai: Catalog) -> None:
    def first_usd(catalog: Catalog, key: str) -> float:
        return catalog.prices[key].tiers[0].usd

    assert first_usd(virginia, "lambda.duration-x86") == 0.0000166667
    assert first_usd(virginia, "apigw.http.requests") == 1.00
    assert first_usd(mumbai, "apigw.http.requests") == 1.05
    assert first_usd(mumbai, "transfer.internet-out") == 0.1093
    assert first_usd(mumbai, "transfer.inter-region") == 0.086
    assert first_usd(virginia, "mq.instance-hours") == 0.288
    assert virginia.prices["transfer.internet-out"].free_allowance == 100
    assert virginia.prices["sns.http-deliveries"].free_allowance == 100_000
