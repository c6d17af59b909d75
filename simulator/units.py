"""Parsing of quantities with units: durations, sizes, rates and money.

Scenario files carry units on every value (``300ms``, ``3KB``, ``50M/month``,
``$0.09``). Decimal prefixes are powers of 1000 (``KB`` = 1000 bytes) and binary
prefixes powers of 1024 (``KiB`` = 1024 bytes); nothing is guessed. Internally
durations are seconds, sizes bytes, rates per second and money US dollars.
"""

import math
import re

SECONDS_PER_HOUR = 3600.0
HOURS_PER_MONTH_DEFAULT = 730.0

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}

_SIZE_UNITS = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}

_COUNT_SUFFIXES = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9}

_NUMBER = r"[-+]?(?:\d+(?:_\d+)*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>[^\s\d].*?)?\s*$")


class UnitError(ValueError):
    """A value could not be read as a quantity with the expected unit."""


def _split(text: str, what: str, example: str) -> tuple[float, str]:
    match = _QUANTITY.match(text)
    if match is None:
        raise UnitError(
            f"{text!r} is not a {what}: write a number and a unit, e.g. {example}"
        )

    number = float(match.group("number").replace("_", ""))
    if not math.isfinite(number):
        raise UnitError(f"{text!r} is not a finite {what}")
    return number, match.group("unit") or ""


def _non_negative(value: float, text: object, what: str) -> float:
    if not math.isfinite(value):
        raise UnitError(f"{text!r} is not a finite {what}")
    if value < 0:
        raise UnitError(f"{text!r} is negative: a {what} must be zero or more")
    return value


def parse_duration(value: object) -> float:
    """Return a duration in seconds.

    Args:
        value: A string such as ``300ms``, ``2s`` or ``5min``; a bare number is
            seconds.

    Raises:
        UnitError: The value has no known duration unit or is negative.
    """
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        return _non_negative(float(value), value, "duration")
    if not isinstance(value, str):
        raise UnitError(f"{value!r} is not a duration: write e.g. 300ms, 2s, 5min")

    number, unit = _split(value, "duration", "300ms, 2s or 5min")
    unit = unit or "s"
    if unit not in _DURATION_UNITS:
        known = ", ".join(_DURATION_UNITS)
        raise UnitError(f"{value!r} has an unknown duration unit {unit!r}: use {known}")
    return _non_negative(number * _DURATION_UNITS[unit], value, "duration")


def parse_size(value: object) -> float:
    """Return a size in bytes.

    Args:
        value: A string such as ``3KB`` (3000 bytes) or ``3KiB`` (3072 bytes); a
            bare number is bytes.

    Raises:
        UnitError: The unit is unknown (``kb`` is refused: write ``KB`` or
            ``KiB``) or the size is negative.
    """
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a size")
    if isinstance(value, int | float):
        return _non_negative(float(value), value, "size")
    if not isinstance(value, str):
        raise UnitError(f"{value!r} is not a size: write e.g. 3KB or 3KiB")

    number, unit = _split(value, "size", "3KB (3000 bytes) or 3KiB (3072 bytes)")
    unit = unit or "B"
    if unit not in _SIZE_UNITS:
        known = ", ".join(_SIZE_UNITS)
        raise UnitError(
            f"{value!r} has an unknown size unit {unit!r}: use {known} "
            "(KB = 1000 bytes, KiB = 1024 bytes)"
        )
    return _non_negative(number * _SIZE_UNITS[unit], value, "size")


def parse_count(value: object) -> float:
    """Return a plain count, allowing ``k``, ``M`` and ``B`` suffixes (``50M``)."""
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a count")
    if isinstance(value, int | float):
        return _non_negative(float(value), value, "count")
    if not isinstance(value, str):
        raise UnitError(f"{value!r} is not a count: write e.g. 50M or 1000")

    return _non_negative(_scaled_count(value), value, "count")


def _scaled_count(text: str) -> float:
    number, suffix = _split(text, "count", "50M or 1000")
    if suffix not in _COUNT_SUFFIXES:
        raise UnitError(f"{text!r} has an unknown suffix {suffix!r}: use k, M or B")
    return number * _COUNT_SUFFIXES[suffix]


def parse_rate(
    value: object, hours_per_month: float = HOURS_PER_MONTH_DEFAULT
) -> float:
    """Return a rate in events per second.

    Args:
        value: A string such as ``20/s``, ``1200/min``, ``50M/month``; a bare
            number is per second.
        hours_per_month: How long a month is, for ``/month`` rates.

    Raises:
        UnitError: The rate has no known period or is negative.
    """
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a rate")
    if isinstance(value, int | float):
        return _non_negative(float(value), value, "rate")
    if not isinstance(value, str) or "/" not in value:
        raise UnitError(f"{value!r} is not a rate: write e.g. 20/s or 50M/month")

    count_text, _, period = value.partition("/")
    # The sign is checked on the whole rate so the message names the rate.
    count = _non_negative(_scaled_count(count_text.strip()), value, "rate")
    period = period.strip()
    if not period:
        # "20/" must not silently mean "20/s".
        raise UnitError(f"{value!r} has no period: use s, min, h, day or month")
    if period == "month":
        seconds = hours_per_month * SECONDS_PER_HOUR
    else:
        try:
            seconds = parse_duration(period if period[:1].isdigit() else "1" + period)
        except UnitError:
            raise UnitError(
                f"{value!r} has an unknown period {period!r}: use s, min, h, day "
                "or month"
            ) from None
    if seconds <= 0:
        raise UnitError(f"{value!r} has a zero period")
    return count / seconds


def parse_bandwidth(value: object) -> float:
    """Return a bandwidth in bytes per second from ``125MB/s`` or ``1GB/s``."""
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a bandwidth")
    if isinstance(value, int | float):
        return _non_negative(float(value), value, "bandwidth")
    if not isinstance(value, str) or "/" not in value:
        raise UnitError(f"{value!r} is not a bandwidth: write e.g. 125MB/s")

    size_text, _, period = value.partition("/")
    size = parse_size(size_text.strip())
    period = period.strip()
    if not period:
        raise UnitError(f"{value!r} has no period: write e.g. 125MB/s")
    seconds = parse_duration(period if period[:1].isdigit() else "1" + period)
    if seconds <= 0 or size <= 0:
        raise UnitError(f"{value!r} must be above zero")
    return size / seconds


def parse_money(value: object) -> float:
    """Return an amount in US dollars from ``$0.09``, ``0.09`` or ``0.09 USD``."""
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not an amount of money")
    if isinstance(value, int | float):
        return _non_negative(float(value), value, "price")
    if not isinstance(value, str):
        raise UnitError(f"{value!r} is not an amount of money: write e.g. $0.09")

    text = value.strip().removeprefix("$").removesuffix("USD").strip()
    number, unit = _split(text, "price", "$0.09")
    if unit:
        raise UnitError(f"{value!r} is not an amount in US dollars: write e.g. $0.09")
    return _non_negative(number, value, "price")


def format_duration(seconds: float) -> str:
    """Return a short human form of a duration, e.g. ``12.3 ms``."""
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.2f} ms"
