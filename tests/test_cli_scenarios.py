"""``isc-sim run`` end to end on every shipped scenario, and the article's bill.

Every file in scenarios/ is run once (one replication, to keep the suite fast;
a new file is picked up automatically) with ``--format json``, and the report's
structure is checked. The article's scenario must reproduce its figures.
"""

import csv
import functools
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, SCENARIOS, invoke

from simulator import __version__
from simulator.engine.runtime import ERROR_CAUSES
from simulator.scenario.model import SCHEMA_VERSION

ARTICLE = ROOT / "scenarios" / "lambda-vs-api-gateway.yaml"
LATENCY_KEYS = ("p50", "p90", "p95", "p99", "p999", "max")
COST_LINE_KEYS = {"component", "meter", "quantity", "unit", "unit_price_usd", "usd"}


@functools.cache
def report(path: Path) -> dict[str, Any]:
    """Run a scenario once per test session and return its JSON report."""
    result = invoke("run", str(path), "--format", "json", "--replications", "1")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {topology["name"]: topology for topology in document["topologies"]}


def cost_line(topology: dict[str, Any], meter: str) -> dict[str, Any]:
    lines = [line for line in topology["cost"]["breakdown"] if line["meter"] == meter]
    assert len(lines) == 1, (topology["name"], meter)
    return lines[0]


def cents(usd: float) -> float:
    return round(usd, 2)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_scenario_runs_and_reports_its_structure(path: Path) -> None:
    document = report(path)

    assert document["schema_version"] == SCHEMA_VERSION
    assert document["tool_version"] == __version__
    assert isinstance(document["seed"], int)
    scenario = document["scenario"]
    assert scenario["seed"] == document["seed"]
    assert list(by_name(document)) == list(scenario["topologies"])

    for topology in document["topologies"]:
        name = topology["name"]
        assert topology["replications"] == 1
        assert topology["throughput_rps"] > 0, name
        assert topology["goodput_rps"] <= topology["throughput_rps"]

        latency = topology["latency_s"]
        values = [latency[key] for key in LATENCY_KEYS]
        assert values == sorted(values), name
        assert 0 < latency["mean"] <= latency["max"], name

        assert set(topology["errors"]) == set(ERROR_CAUSES)
        requests = topology["requests"]
        assert requests["failed"] == sum(topology["errors"].values())
        assert (
            requests["succeeded"] + requests["failed"] + requests["in_flight"]
            == requests["arrived"]
        )

        cost = topology["cost"]
        # A topology of unpriced containers may have no cost line at all.
        assert cost["monthly_usd"] >= 0
        for line in cost["breakdown"]:
            assert COST_LINE_KEYS <= set(line), line
            assert line["usd"] == pytest.approx(
                line["quantity"] * line["unit_price_usd"], rel=1e-6, abs=1e-9
            )
        total = math.fsum(line["usd"] for line in cost["breakdown"])
        assert cost["monthly_usd"] == pytest.approx(total, rel=1e-9)


def test_article_direct_invoke_costs_41_26() -> None:
    direct = by_name(report(ARTICLE))["article-direct-invoke"]

    assert cents(direct["cost"]["monthly_usd"]) == 41.26
    requests = cost_line(direct, "lambda.requests")
    assert requests["quantity"] == 50_000_000
    assert cents(requests["usd"]) == 10.00
    assert cents(cost_line(direct, "lambda.duration-x86")["usd"]) == 31.26


def test_article_api_gateway_costs_187_87() -> None:
    gateway = by_name(report(ARTICLE))["article-api-gateway"]

    assert cents(cost_line(gateway, "apigw.rest.requests")["usd"]) == 175.00
    transfer = cost_line(gateway, "transfer.internet-out")
    # 50 M responses of 3 KiB, in GB of 2^30 bytes.
    assert round(transfer["quantity"], 2) == 143.05
    assert cents(transfer["usd"]) == 12.87
    # The article leaves the function behind the gateway out of the bill.
    assert cost_line(gateway, "lambda.requests")["usd"] == 0
    assert cost_line(gateway, "lambda.duration-x86")["usd"] == 0
    assert cents(gateway["cost"]["monthly_usd"]) == 187.87


def test_mumbai_api_gateway_bills_the_full_path() -> None:
    topologies = by_name(report(ARTICLE))
    gateway = topologies["mumbai-api-gateway"]
    direct = topologies["mumbai-direct-invoke"]

    # The function's own charges are on the gateway path too.
    for meter in ("lambda.requests", "lambda.duration-x86"):
        assert cost_line(gateway, meter)["usd"] == pytest.approx(
            cost_line(direct, meter)["usd"], rel=1e-3
        )
    assert cents(cost_line(gateway, "lambda.requests")["usd"]) == 10.00

    # Mumbai's transfer price on 3 KB (3,000 bytes) responses.
    transfer = cost_line(gateway, "transfer.internet-out")
    assert transfer["unit_price_usd"] == 0.1093
    assert transfer["quantity"] == pytest.approx(50e6 * 3000 / 2**30, rel=1e-6)

    components = math.fsum(
        cost_line(gateway, meter)["usd"]
        for meter in (
            "apigw.rest.requests",
            "transfer.internet-out",
            "lambda.requests",
            "lambda.duration-x86",
        )
    )
    assert gateway["cost"]["monthly_usd"] == pytest.approx(components, rel=1e-9)
    assert gateway["cost"]["monthly_usd"] > 187.87 + 40


def test_table_report_lines_topologies_up() -> None:
    result = invoke("run", str(ROOT / "tests" / "data" / "golden.yaml"))
    assert result.exit_code == 0, result.stderr
    assert "Topologies side by side" in result.stdout
    assert "direct" in result.stdout and "gateway" in result.stdout
    assert "Monthly cost of direct" in result.stdout


def test_csv_report_is_one_tidy_table_matching_the_json() -> None:
    golden = str(ROOT / "tests" / "data" / "golden.yaml")
    result = invoke("run", golden, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    document = json.loads(invoke("run", golden, "--format", "json").stdout)

    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and set(rows[0]) == {
        "topology",
        "figure",
        "value",
        "ci95_half_width",
        "unreliable",
    }
    by_key = {(row["topology"], row["figure"]): row for row in rows}

    # Every topology figure, service and cost line is there, with the
    # value and interval of the JSON document.
    for topology in document["topologies"]:
        name = topology["name"]
        p99 = by_key[(name, "latency_s.p99")]
        assert float(p99["value"]) == topology["latency_s"]["p99"]
        for line in topology["cost"]["breakdown"]:
            key = f"cost.breakdown.{line['component']}/{line['meter']}.usd"
            assert float(by_key[(name, key)]["value"]) == line["usd"]
        for service in topology["services"]:
            assert (name, f"services.{service}.served") in by_key
