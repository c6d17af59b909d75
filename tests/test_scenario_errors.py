"""Bad scenario files: exit code 2, and a message naming file, line, value, rule.

Each case breaks one thing in an otherwise valid scenario and runs
``isc-sim validate`` (in this process, through click's runner); one test runs
the installed console script to check the real exit code and stderr.
"""

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import Result
from helpers import SCENARIOS, invoke, isc_sim_command

from simulator.pricing.catalog import PRICE_KEYS, load_catalog

VALID = """\
name: errors
run: {duration: 1s}
workload:
  arrivals: {kind: poisson, rate: 5/s}
  request_size: 3KB
pricing:
  region: us-east-1
topologies:
  t:
    services:
      front:
        kind: container
        replicas: 2
        steps:
          - {compute: 5ms}
          - {call: fn, via: invoke}
      fn: {kind: lambda, memory_mb: 128, work: 10ms, cold_start: 100ms}
      back: {kind: container, work: 5ms}
    links:
      invoke: {pattern: lambda-invoke}
    entrypoint:
      - {call: front}
"""


def _missing_mumbai_key() -> str:
    # A price key the Mumbai catalog lacks, whichever that is today.
    prices = load_catalog("ap-south-1").prices
    return next(key for key in PRICE_KEYS if key not in prices)


@dataclass(frozen=True)
class Case:
    """One way to break the valid scenario, and what the message must say."""

    edits: list[tuple[str, str]]
    line_of: str | None
    expected: list[str] = field(default_factory=list)

    def text(self) -> str:
        text = VALID
        for old, new in self.edits:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        return text

    def line(self, text: str) -> int | None:
        if self.line_of is None:
            return None
        lines = [n for n, s in enumerate(text.splitlines(), 1) if self.line_of in s]
        assert len(lines) == 1, self.line_of
        return lines[0]


MUMBAI_KEY = _missing_mumbai_key()

CASES = {
    "misspelt key": Case(
        [("replicas: 2", "replcas: 2")],
        "replcas",
        [
            "topologies.t.services.front.replcas",
            "unknown key 'replcas'",
            "did you mean 'replicas'?",
        ],
    ),
    "wrong unit": Case(
        [("request_size: 3KB", "request_size: 3kb")],
        "3kb",
        [
            "workload.request_size",
            "'3kb'",
            "unknown size unit 'kb'",
            "KB = 1000 bytes, KiB = 1024 bytes",
        ],
    ),
    "negative rate": Case(
        [("rate: 5/s", "rate: -5/s")],
        "-5/s",
        ["workload.arrivals.rate", "'-5/s'", "a rate must be zero or more"],
    ),
    "zero rate": Case(
        [("rate: 5/s", "rate: 0/s")],
        "0/s",
        ["workload.arrivals.rate", "greater than 0"],
    ),
    "undeclared service": Case(
        [("- {call: front}", "- {call: frnt}")],
        "frnt",
        [
            "topologies.t.entrypoint.0.call",
            "'frnt' is not a service of this topology",
            "declared: front, fn, back",
        ],
    ),
    "undeclared link": Case(
        [("via: invoke}", "via: invoek}")],
        "invoek",
        [
            "topologies.t.services.front.steps.1.via",
            "'invoek' is not a link of this topology",
            "declared: invoke",
        ],
    ),
    "lambda-invoke to a container": Case(
        [("{call: fn, via: invoke}", "{call: back, via: invoke}")],
        "call: back",
        [
            "topologies.t.services.front.steps.1.via",
            "link 'invoke' is lambda-invoke, which calls lambda services",
            "'back' is a container service",
        ],
    ),
    "cycle of calls": Case(
        [
            ("{call: fn, via: invoke}", "{call: back}"),
            ("back: {kind: container, work: 5ms}", "back: {kind: container, "),
            ("{kind: container, ", "{kind: container, steps: [{call: front}]}"),
        ],
        "    services:",
        [
            "topologies.t.services",
            "services call each other in a cycle: front -> back -> front",
        ],
    ),
    "duplicate key": Case(
        [("run: {duration: 1s}\n", "run: {duration: 1s}\nrun: {duration: 2s}\n")],
        "duration: 2s",
        ["duplicate key 'run'", "each key may appear once"],
    ),
    "missing price in Mumbai": Case(
        [
            (
                "region: us-east-1",
                f"region: ap-south-1\n  overrides:\n    {MUMBAI_KEY}: 0.4",
            )
        ],
        f"{MUMBAI_KEY}:",
        [
            f"pricing.overrides.{MUMBAI_KEY}",
            f"no price '{MUMBAI_KEY}' in the aws ap-south-1 catalog",
            "set it under pricing.overrides with at least unit and usd",
        ],
    ),
    "misspelt price key": Case(
        [
            (
                "region: us-east-1",
                "region: us-east-1\n  overrides:\n    lambda.duraton-x86: 0.1",
            )
        ],
        "lambda.duraton-x86",
        ["not a known price key; did you mean 'lambda.duration-x86'?"],
    ),
    "unknown region": Case(
        [("region: us-east-1", "region: eu-mars-1")],
        "eu-mars-1",
        [
            "pricing.region",
            "no price catalog for aws region 'eu-mars-1'",
            "available regions: ap-south-1, us-east-1",
        ],
    ),
    "memory below the minimum": Case(
        [("memory_mb: 128", "memory_mb: 64")],
        "memory_mb: 64",
        ["topologies.t.services.fn.memory_mb", "64", "greater than or equal to 128"],
    ),
    "unknown pattern": Case(
        [("pattern: lambda-invoke", "pattern: carrier-pigeon")],
        "carrier-pigeon",
        [
            "topologies.t.links.invoke.pattern",
            "'carrier-pigeon' is not one of the allowed values",
            "lambda-invoke",
        ],
    ),
    "unknown distribution": Case(
        [("work: 5ms}", "work: {kind: gamma, mean: 5ms}}")],
        "gamma",
        [
            "topologies.t.services.back.work.kind",
            "'gamma' is not one of the allowed values",
            "lognormal",
        ],
    ),
    "both lognormal forms": Case(
        [
            (
                "work: 10ms, cold",
                "work: {kind: lognormal, mean: 1s, sd: 1s, p50: 1s}, cold",
            )
        ],
        "lognormal",
        ["lognormal takes exactly one of: mean and sd, or p50 and p99"],
    ),
    "not a step": Case(
        [("- {compute: 5ms}", "- {sleep: 5ms}")],
        "sleep",
        ["a step is one of: compute, call, parallel"],
    ),
    "not YAML": Case(
        [("name: errors", "name: [errors")],
        "run: {duration",
        ["not valid YAML"],
    ),
    "not a mapping": Case(
        [(VALID, "- just\n- a list\n")],
        "- just",
        ["a scenario is a mapping of keys, not a list"],
    ),
    "empty file": Case([(VALID, "")], None, ["the file is empty"]),
    "only comments": Case([(VALID, "# nothing yet\n")], None, ["the file is empty"]),
}


def assert_bad_input(result: Result) -> None:
    """Exit code 2 from a clean exit, and no traceback anywhere."""
    assert result.exit_code == 2, result.output + result.stderr
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output + result.stderr
    assert result.stdout == ""


def test_valid_scenario_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(VALID)
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.stderr
    assert "ok" in result.stdout


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_scenario(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    text = case.text()
    path.write_text(text)

    result = invoke("validate", str(path))

    assert_bad_input(result)
    line = case.line(text)
    where = f"error: {path}:{line}:" if line else f"error: {path}:1:"
    assert where in result.stderr
    for expected in case.expected:
        assert expected in result.stderr


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        VALID.replace("replicas: 2", "replcas: 2")
        .replace("request_size: 3KB", "request_size: 3kb")
        .replace("rate: 5/s", "rate: -5/s")
    )
    path = tmp_path / "scenario.yaml"
    path.write_text(text)

    result = invoke("validate", str(path))

    assert_bad_input(result)
    errors = result.stderr.splitlines()
    assert len(errors) == 3
    assert all(line.startswith(f"error: {path}:") for line in errors)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    result = invoke("validate", str(path))
    assert_bad_input(result)
    assert f"error: {path}: no such file" in result.stderr


def test_directory_is_not_a_scenario(tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path))
    assert_bad_input(result)
    assert "is a directory, not a file" in result.stderr


def test_binary_file_is_not_a_scenario(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_bytes(b"\xff\xfe\x00name")
    result = invoke("validate", str(path))
    assert_bad_input(result)
    assert "not a UTF-8 text file" in result.stderr


def test_run_refuses_bad_input_before_simulating(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(CASES["undeclared service"].text())
    result = invoke("run", str(path), "--format", "json")
    assert_bad_input(result)
    assert "'frnt' is not a service of this topology" in result.stderr


def test_validate_reports_good_and_bad_files_together(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(VALID)
    bad.write_text(CASES["misspelt key"].text())

    result = invoke("validate", str(good), str(bad))

    assert result.exit_code == 2
    assert f"{good}: ok" in result.stdout
    assert f"error: {bad}:" in result.stderr


def test_installed_script_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(CASES["misspelt key"].text())

    for command in ("validate", "run"):
        done = subprocess.run(
            [*isc_sim_command(), command, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stdout == ""
        assert f"{path}:13:" in done.stderr
        assert "did you mean 'replicas'?" in done.stderr


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_shipped_scenario_is_valid(scenario: Path) -> None:
    result = invoke("validate", str(scenario))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{scenario}: ok")
    assert result.stderr == ""


def test_schema_is_json_with_the_top_level_sections(tmp_path: Path) -> None:
    result = invoke("schema")
    assert result.exit_code == 0

    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["type"] == "object"
    properties = set(schema["properties"])
    assert {"name", "seed", "run", "workload", "pricing", "topologies"} <= properties
    assert {"name", "run", "workload", "topologies"} <= set(schema["required"])
    assert schema.get("additionalProperties") is False

    output = tmp_path / "schema.json"
    assert invoke("schema", "--output", str(output)).exit_code == 0
    assert json.loads(output.read_text()) == schema
