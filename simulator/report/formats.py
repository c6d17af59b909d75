"""JSON and CSV renderings of the result document."""

import csv
import io
import json
from typing import Any

_CSV_COLUMNS = (
    "topology",
    "offered_rps",
    "throughput_rps",
    "goodput_rps",
    "arrived",
    "succeeded",
    "failed",
    "error_rate",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p95_s",
    "latency_p99_s",
    "latency_p999_s",
    "latency_max_s",
    "latency_mean_s",
    "monthly_usd",
    "per_million_requests_usd",
    "in_flight_mean",
    "unreliable",
)

# The figures whose 95 % half-widths follow, each as a ``<figure>_ci95`` column.
_CI_COLUMNS = (
    "offered_rps",
    "throughput_rps",
    "goodput_rps",
    "error_rate",
    *(f"latency_{k}_s" for k in ("p50", "p90", "p95", "p99", "p999", "max", "mean")),
    "monthly_usd",
    "per_million_requests_usd",
    "in_flight_mean",
)


def to_json(document: dict[str, Any]) -> str:
    """Return the document as indented JSON with a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def to_csv(document: dict[str, Any]) -> str:
    """Return one CSV row per topology, then one per cost line.

    The first table has a row per topology; after a blank line the second has
    a row per topology, component and meter of the cost breakdown.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*_CSV_COLUMNS, *(f"{c}_ci95" for c in _CI_COLUMNS)])
    for topology in document["topologies"]:
        latency = topology["latency_s"]
        requests = topology["requests"]
        ci = topology["ci95_half_width"]
        intervals = [
            ci[key]
            for key in ("offered_rps", "throughput_rps", "goodput_rps", "error_rate")
        ]
        intervals += [
            ci["latency_s"][k]
            for k in ("p50", "p90", "p95", "p99", "p999", "max", "mean")
        ]
        intervals += [
            ci[key]
            for key in ("monthly_usd", "per_million_requests_usd", "in_flight_mean")
        ]
        writer.writerow(
            [
                topology["name"],
                topology["offered_rps"],
                topology["throughput_rps"],
                topology["goodput_rps"],
                requests["arrived"],
                requests["succeeded"],
                requests["failed"],
                topology["error_rate"],
                *(
                    latency[k]
                    for k in ("p50", "p90", "p95", "p99", "p999", "max", "mean")
                ),
                topology["cost"]["monthly_usd"],
                topology["cost"]["per_million_requests_usd"],
                topology["in_flight_mean"],
                ";".join(topology["unreliable"]),
                *("" if value is None else value for value in intervals),
            ]
        )

    writer.writerow([])
    writer.writerow(
        ["topology", "component", "meter", "quantity", "unit", "unit_price_usd", "usd"]
    )
    for topology in document["topologies"]:
        for line in topology["cost"]["breakdown"]:
            writer.writerow(
                [
                    topology["name"],
                    line["component"],
                    line["meter"],
                    line["quantity"],
                    line["unit"],
                    line["unit_price_usd"],
                    line["usd"],
                ]
            )
    return out.getvalue()
