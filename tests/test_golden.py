"""Golden files: the reports of tests/data/golden.yaml, byte for byte.

The JSON and CSV reports come from ``isc-sim run`` (run from the repository
root, so the report's ``source`` is the same relative path everywhere); the
table is that JSON document rendered by rich at a fixed width of 120 columns.

A change to a report that is intended shows up here as a diff. Review it, then
regenerate the files and commit them with the change:

    UPDATE_GOLDEN=1 pytest tests/test_golden.py
"""

import io
import json
import os
from pathlib import Path

import pytest
from helpers import GOLDEN, ROOT, invoke
from rich.console import Console

from simulator.report.table import render

SCENARIO = "tests/data/golden.yaml"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def run_report(output_format: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(ROOT)
    result = invoke("run", SCENARIO, "--format", output_format)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def table_at_fixed_width(document: dict[str, object]) -> str:
    console = Console(
        width=120, record=True, file=io.StringIO(), color_system=None, highlight=False
    )
    render(document, console)
    return console.export_text(styles=False)


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8", newline="")
        return
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from the golden file; see the module doc"


@pytest.fixture(scope="module")
def json_report() -> str:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return run_report("json", monkeypatch)


def test_json_report(json_report: str) -> None:
    assert_golden("golden.json", json_report)


def test_csv_report(monkeypatch: pytest.MonkeyPatch) -> None:
    assert_golden("golden.csv", run_report("csv", monkeypatch))


def test_table_report(json_report: str) -> None:
    assert_golden("golden.txt", table_at_fixed_width(json.loads(json_report)))


def test_golden_files_are_not_empty() -> None:
    # Guards against committing the output of a failed regeneration.
    for name in ("golden.json", "golden.csv", "golden.txt"):
        assert (GOLDEN / name).stat().st_size > 500, name
    document = json.loads((GOLDEN / "golden.json").read_text(encoding="utf-8"))
    assert [t["name"] for t in document["topologies"]] == ["direct", "gateway"]
    assert Path(document["source"]) == Path(SCENARIO)
