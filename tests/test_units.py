"""Quantities with units: durations, sizes, counts, rates, bandwidth, money."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.units import (
    UnitError,
    format_duration,
    parse_bandwidth,
    parse_count,
    parse_duration,
    parse_money,
    parse_rate,
    parse_size,
)

SECONDS_PER_MONTH = 730 * 3600

# Durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1ns", 1e-9),
        ("250ns", 250e-9),
        ("1us", 1e-6),
        ("1µs", 1e-6),
        ("300ms", 0.3),
        ("0.5ms", 0.0005),
        ("2s", 2.0),
        ("2sec", 2.0),
        ("5min", 300.0),
        ("1.5h", 5400.0),
        ("1hour", 3600.0),
        ("1d", 86400.0),
        ("2day", 172800.0),
        ("300 ms", 0.3),
        ("1_000ms", 1.0),
        ("1e3ms", 1.0),
        (".5s", 0.5),
    ],
)
def test_duration_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize(("value", "seconds"), [(2, 2.0), (0.25, 0.25), ("2", 2.0)])
def test_bare_number_is_seconds(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["-1s", "-300ms", -0.5])
def test_negative_duration_is_refused(value: object) -> None:
    with pytest.raises(UnitError, match="negative"):
        parse_duration(value)


@pytest.mark.parametrize("text", ["3parsec", "2 weeks", "5m", "10S"])
def test_unknown_duration_unit_is_refused_and_named(text: str) -> None:
    unit = text.lstrip("0123456789 ")
    with pytest.raises(UnitError, match=f"unknown duration unit '{unit}'"):
        parse_duration(text)


@pytest.mark.parametrize("value", [True, None, [1], "ms", "", "fast"])
def test_non_durations_are_refused(value: object) -> None:
    with pytest.raises(UnitError):
        parse_duration(value)


@pytest.mark.parametrize("text", ["nan s", "inf", "1e999s"])
def test_non_finite_duration_is_refused(text: str) -> None:
    with pytest.raises(UnitError):
        parse_duration(text)


# Sizes: KB is 1000 bytes, KiB is 1024 bytes, nothing is guessed.


@pytest.mark.parametrize(
    ("text", "size_bytes"),
    [
        ("3KB", 3000),
        ("3KiB", 3072),
        ("1MB", 1_000_000),
        ("1MiB", 1_048_576),
        ("1GB", 10**9),
        ("1GiB", 2**30),
        ("2TB", 2 * 10**12),
        ("1TiB", 2**40),
        ("512B", 512),
        ("512", 512),
        ("1.5KB", 1500),
    ],
)
def test_size_units(text: str, size_bytes: int) -> None:
    assert parse_size(text) == size_bytes


def test_bare_number_is_bytes() -> None:
    assert parse_size(4096) == 4096.0


@pytest.mark.parametrize("text", ["3kb", "3kB", "3Kb", "3kib", "3mb"])
def test_ambiguous_size_units_are_refused(text: str) -> None:
    with pytest.raises(UnitError, match="KB = 1000 bytes, KiB = 1024 bytes"):
        parse_size(text)


@pytest.mark.parametrize("value", ["-3KB", -1])
def test_negative_size_is_refused(value: object) -> None:
    with pytest.raises(UnitError, match="negative"):
        parse_size(value)


@given(st.integers(min_value=0, max_value=10**9))
def test_decimal_and_binary_prefixes(n: int) -> None:
    assert parse_size(f"{n}KB") == n * 1000
    assert parse_size(f"{n}KiB") == n * 1024
    assert parse_size(f"{n}MiB") == n * 1024**2


# Counts


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("50M", 50e6),
        ("1k", 1e3),
        ("1K", 1e3),
        ("2B", 2e9),
        ("3G", 3e9),
        ("1000", 1000.0),
        ("1.5M", 1.5e6),
        (7, 7.0),
    ],
)
def test_counts(text: object, count: float) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize("text", ["5X", "5 million", "5m"])
def test_unknown_count_suffix_is_refused(text: str) -> None:
    with pytest.raises(UnitError, match="unknown suffix"):
        parse_count(text)


def test_negative_count_is_refused() -> None:
    with pytest.raises(UnitError, match="negative"):
        parse_count("-5M")


# Rates


@pytest.mark.parametrize(
    ("text", "per_s"),
    [
        ("20/s", 20.0),
        ("20/sec", 20.0),
        ("1200/min", 20.0),
        ("72000/h", 20.0),
        ("86400/day", 1.0),
        ("10/5s", 2.0),
        ("3/250ms", 12.0),
        ("1k/s", 1000.0),
        ("50M/month", 50e6 / SECONDS_PER_MONTH),
        ("20 / s", 20.0),
    ],
)
def test_rates(text: str, per_s: float) -> None:
    assert parse_rate(text) == pytest.approx(per_s, rel=1e-12)


def test_article_rate_is_about_19_per_second() -> None:
    # 50 M requests over a 730-hour month.
    assert parse_rate("50M/month") == pytest.approx(19.0258751903, rel=1e-9)


def test_month_length_is_a_setting() -> None:
    assert parse_rate("720/month", hours_per_month=720) == pytest.approx(1 / 3600)


def test_bare_number_is_per_second() -> None:
    assert parse_rate(20) == 20.0


@pytest.mark.parametrize("value", ["-5/s", "-1200/min", -3])
def test_negative_rate_is_refused(value: object) -> None:
    with pytest.raises(UnitError, match="negative"):
        parse_rate(value)


@pytest.mark.parametrize("text", ["20/fortnight", "20/week"])
def test_unknown_period_is_refused(text: str) -> None:
    with pytest.raises(UnitError, match="unknown period"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["20/", "20/ "])
def test_missing_period_is_refused(text: str) -> None:
    # Not read as "per second": a truncated value must not pass silently.
    with pytest.raises(UnitError, match="no period"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["20", "20 per second", "fast"])
def test_rate_without_period_is_refused(text: str) -> None:
    with pytest.raises(UnitError, match="not a rate"):
        parse_rate(text)


def test_zero_period_is_refused() -> None:
    with pytest.raises(UnitError, match="zero period"):
        parse_rate("5/0s")


# Bandwidth


@pytest.mark.parametrize(
    ("text", "bytes_per_s"),
    [
        ("125MB/s", 125e6),
        ("1GiB/s", 2**30),
        ("1MB/ms", 1e9),
        ("60KB/min", 1000.0),
        (1000, 1000.0),
    ],
)
def test_bandwidth(text: object, bytes_per_s: float) -> None:
    assert parse_bandwidth(text) == pytest.approx(bytes_per_s, rel=1e-12)


@pytest.mark.parametrize(
    "text", ["0MB/s", "125MB", "125mb/s", "-1MB/s", "125MB/", "1MB/week"]
)
def test_bad_bandwidth_is_refused(text: str) -> None:
    with pytest.raises(UnitError):
        parse_bandwidth(text)


# Money


@pytest.mark.parametrize(
    ("value", "usd"),
    [
        ("$0.09", 0.09),
        ("0.09", 0.09),
        ("0.09 USD", 0.09),
        ("$ 3.50", 3.5),
        (0.0000166667, 0.0000166667),
        (0, 0.0),
    ],
)
def test_money(value: object, usd: float) -> None:
    assert parse_money(value) == usd


@pytest.mark.parametrize("value", ["€5", "5 EUR", "$-1", -0.01, True, "$"])
def test_bad_money_is_refused(value: object) -> None:
    with pytest.raises(UnitError):
        parse_money(value)


# Round trips and formatting


@given(st.integers(min_value=0, max_value=10**7))
def test_milliseconds_and_seconds_agree(n: int) -> None:
    assert math.isclose(parse_duration(f"{n}ms"), n / 1000, rel_tol=1e-12)
    assert parse_duration(f"{n}min") == 60 * parse_duration(f"{n}s")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0123, "12.30 ms"), (2.5, "2.50 s"), (90.0, "1.5 min")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
