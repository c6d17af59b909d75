"""Pydantic field types for quantities with units.

Each type accepts the string a user writes (``300ms``) or a bare number in the
base unit, stores the base unit (seconds, bytes, per second, dollars) and
publishes a JSON Schema that editors can use to complete and check files.
"""

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from simulator import units


def _checked(parse: Any) -> Any:
    def validate(value: object) -> float:
        try:
            result = float(parse(value))
        except units.UnitError as error:
            raise ValueError(str(error)) from None
        except OverflowError:
            raise ValueError(f"{value!r} is too large a number") from None
        if not math.isfinite(result):
            raise ValueError(f"{value!r} is not a finite number")
        return result

    return BeforeValidator(validate)


def _schema(pattern: str, description: str, examples: list[str]) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": pattern, "examples": examples},
                {"type": "number", "minimum": 0},
            ],
            "description": description,
        }
    )


_NUM = r"^\s*[0-9_.eE+-]+\s*"

Duration = Annotated[
    float,
    _checked(units.parse_duration),
    _schema(
        _NUM + r"(ns|us|µs|ms|s|sec|min|h|hour|d|day)?\s*$",
        "A duration: a number and a unit (ns, us, ms, s, min, h, day); "
        "a bare number is seconds.",
        ["300ms", "2s", "5min"],
    ),
]
"""A duration in seconds, written ``300ms``, ``2s``, ``5min``."""

Size = Annotated[
    float,
    _checked(units.parse_size),
    _schema(
        _NUM + r"(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$",
        "A size: KB = 1000 bytes, KiB = 1024 bytes; a bare number is bytes.",
        ["3KB", "3KiB", "1MB"],
    ),
]
"""A size in bytes, written ``3KB`` (3000) or ``3KiB`` (3072)."""

Count = Annotated[
    float,
    _checked(units.parse_count),
    _schema(_NUM + r"[kKMBG]?\s*$", "A count, with k, M or B suffixes.", ["50M"]),
]
"""A count, written ``50M`` or ``1000``."""

Rate = Annotated[
    float,
    _checked(units.parse_rate),
    _schema(
        _NUM + r"[kKMBG]?\s*/\s*[0-9.]*\s*(ns|us|ms|s|sec|min|h|hour|d|day|month)\s*$",
        "A rate: a count per period (s, min, h, day, month of 730 hours); "
        "a bare number is per second.",
        ["20/s", "1200/min", "50M/month"],
    ),
]
"""A rate per second, written ``20/s`` or ``50M/month`` (730-hour months)."""

Bandwidth = Annotated[
    float,
    _checked(units.parse_bandwidth),
    _schema(
        _NUM + r"(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*/\s*(ms|s|sec|min)\s*$",
        "A bandwidth: a size per period; a bare number is bytes per second.",
        ["125MB/s"],
    ),
]
"""A bandwidth in bytes per second, written ``125MB/s``."""

Money = Annotated[
    float,
    _checked(units.parse_money),
    _schema(r"^\s*\$?\s*[0-9_.eE+-]+\s*(USD)?\s*$", "US dollars.", ["$0.09"]),
]
"""An amount in US dollars, written ``$0.09`` or ``0.09``."""

PositiveInt = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
