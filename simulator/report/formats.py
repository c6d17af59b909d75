"""JSON and CSV renderings of the result document."""

import csv
import io
import json
from collections.abc import Iterator
from typing import Any


def to_json(document: dict[str, Any]) -> str:
    """Return the document as indented JSON with a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


_CSV_HEADER = ("topology", "figure", "value", "ci95_half_width", "unreliable")
_SKIPPED = {"name", "description", "ci95_half_width", "unreliable"}


def _label(item: dict[str, Any], index: int) -> str:
    # Rows of a list are named by what they are, not by their position.
    if "component" in item and "meter" in item:
        return f"{item['component']}/{item['meter']}"
    return str(item.get("name", index))


def _leaves(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, (*path, str(key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            label = _label(child, index) if isinstance(child, dict) else str(index)
            yield from _leaves(child, (*path, label))
    else:
        yield path, value


def _interval(intervals: dict[str, Any], path: tuple[str, ...]) -> Any:
    # Half-widths mirror the figures' paths where they exist.
    node: Any = intervals
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    if isinstance(node, dict):
        return None
    return node


def to_csv(document: dict[str, Any]) -> str:
    """Return every figure of every topology as one long (tidy) CSV table.

    One row per topology and figure: the figure's dotted path in the JSON
    document (``latency_s.p99``, ``services.orders.utilisation``,
    ``cost.breakdown.orders/lambda.requests.usd``), its value, its 95 %
    half-width where there is one, and whether it is flagged unreliable. Paired
    differences from the first topology follow as ``comparison`` rows.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_HEADER)

    for topology in document["topologies"]:
        intervals = topology.get("ci95_half_width", {})
        unreliable = set(topology.get("unreliable", ()))
        for path, value in _leaves(
            {k: v for k, v in topology.items() if k not in _SKIPPED}, ()
        ):
            figure = ".".join(path)
            half_width = _interval(intervals, path)
            writer.writerow(
                [
                    topology["name"],
                    figure,
                    "" if value is None else value,
                    "" if half_width is None else half_width,
                    "yes" if figure in unreliable else "",
                ]
            )

    for comparison in document.get("comparisons", ()):
        name = f"{comparison['topology']} - {comparison['baseline']}"
        intervals = comparison.get("ci95_half_width", {})
        for path, value in _leaves(comparison.get("difference", {}), ()):
            half_width = _interval(intervals, path)
            writer.writerow(
                [
                    name,
                    "difference." + ".".join(path),
                    value,
                    "" if half_width is None else half_width,
                    "",
                ]
            )
    return out.getvalue()
