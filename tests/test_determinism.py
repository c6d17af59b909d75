"""A run reproduces exactly from its seed, in fresh processes and in parallel.

Each report comes from its own process of the installed ``isc-sim`` (so no
state is shared through the interpreter), all started at once to save time.
"""

import json
import subprocess

import pytest
from helpers import ROOT, isc_sim_command

SCENARIO = "tests/data/determinism.yaml"

RUNS = {
    "first": [],
    "again": [],
    "other seed": ["--seed", "100"],
    "two workers": ["--workers", "2"],
}


@pytest.fixture(scope="module")
def reports() -> dict[str, bytes]:
    processes = {
        name: subprocess.Popen(
            [*isc_sim_command(), "run", SCENARIO, "--format", "json", *extra],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, extra in RUNS.items()
    }
    outputs = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, (name, stderr.decode())
        outputs[name] = stdout
    return outputs


def test_same_seed_gives_byte_identical_reports(reports: dict[str, bytes]) -> None:
    assert reports["first"] == reports["again"]
    assert json.loads(reports["first"])["seed"] == 99


def test_another_seed_gives_another_report(reports: dict[str, bytes]) -> None:
    first = json.loads(reports["first"])
    other = json.loads(reports["other seed"])
    assert other["seed"] == 100
    assert other["scenario"]["seed"] == 100

    # Every topology's measured figures move, not only the seed field.
    for mine, theirs in zip(first["topologies"], other["topologies"], strict=True):
        assert mine["latency_s"] != theirs["latency_s"]
        assert mine["requests"]["arrived"] != theirs["requests"]["arrived"]


def test_workers_give_the_serial_result(reports: dict[str, bytes]) -> None:
    assert reports["two workers"] == reports["first"]
