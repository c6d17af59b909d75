"""Hostile and degenerate input found by trying to break the tool.

Each file must end in a clean bad-input error (exit 2, the file named, no
traceback) or, for what YAML allows, be accepted; none may hang or blow up.
"""

from pathlib import Path

import pytest
from click.testing import Result
from helpers import invoke
from test_scenario_errors import VALID


def _validate(tmp_path: Path, text: str) -> Result:
    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8")
    return invoke("validate", str(path))


def _assert_refused(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "case.yaml" in result.stderr
    for word in words:
        assert word in result.stderr


BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
)

HOSTILE = {
    "billion laughs": (BOMB, ["expands to more than"]),
    "alias refers to itself": ("a: &a [*a]\n", ["refers to itself"]),
    "deep nesting": ("name: " + "[" * 5000 + "\n", []),
    "impossible date": ("name: 2020-02-30\n", ["day is out of range"]),
    "bad tagged float": ("seed: !!float abc\n", ["could not convert"]),
    "control character": ("name: a\x0cb\n", ["not valid YAML"]),
    "infinite duration": (
        VALID.replace("run: {duration: 1s}", "run: {duration: .inf}"),
        ["not a finite duration"],
    ),
    "NaN work": (VALID.replace("work: 10ms", "work: .nan"), ["not a finite"]),
    "NaN price override": (
        VALID.replace("region: us-east-1", "region: us-east-1\n  overrides: {x: .nan}"),
        [],
    ),
    "huge integer": (
        VALID.replace("duration: 1s", "duration: " + "9" * 400),
        ["too large"],
    ),
    "lognormal without spread": (
        VALID.replace("work: 10ms", "work: {kind: lognormal, mean: 4ms, sd: 0ms}"),
        ["spread"],
    ),
}


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_is_refused_cleanly(
    case: tuple[str, list[str]], tmp_path: Path
) -> None:
    text, words = case
    _assert_refused(_validate(tmp_path, text), *words)


def test_keys_may_override_a_yaml_merge(tmp_path: Path) -> None:
    text = VALID.replace(
        "fn: {kind: lambda, memory_mb: 128, work: 10ms, cold_start: 100ms}",
        "fn: &fn {kind: lambda, memory_mb: 128, work: 10ms, cold_start: 100ms}\n"
        "      other:\n        <<: *fn\n        memory_mb: 512",
    )
    result = _validate(tmp_path, text)
    assert result.exit_code == 0, result.output


def test_a_device_is_not_read(tmp_path: Path) -> None:
    result = invoke("validate", "/dev/zero")
    assert result.exit_code == 2
    assert "not a regular file" in result.stderr


def test_names_are_printed_literally_not_as_markup(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(VALID.replace("  t:\n", "  '[/bold]':\n", 1), encoding="utf-8")
    result = invoke("run", str(path))
    assert result.exit_code == 0, result.output
    assert "[/bold]" in result.stdout
