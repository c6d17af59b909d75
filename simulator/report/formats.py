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
    writer.writerow(_CSV_COLUMNS)
    for topology in document["topologies"]:
        latency = topology["latency_s"]
        requests = topology["requests"]
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
