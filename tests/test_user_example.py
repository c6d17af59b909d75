"""The README's worked example, run exactly as written.

The scenario and the test are taken from README.md, section "Guarding a
scenario with property-based tests", written to a fresh directory and run with
pytest in a child process, as a user would. The same test with an objective the
scenario cannot meet must fail, so the example guards something.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
HEADING = "## Guarding a scenario with property-based tests"


def example_blocks() -> tuple[str, str]:
    """Return the YAML scenario and the Python test of the README section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(HEADING) :]
    following = section.find("\n## ", len(HEADING))
    if following != -1:
        section = section[:following]
    scenario = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    test = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert scenario is not None and test is not None
    return scenario.group(1), test.group(1)


def run_pytest(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def example(tmp_path: Path) -> Path:
    scenario, test = example_blocks()
    (tmp_path / "checkout.yaml").write_text(scenario, encoding="utf-8")
    (tmp_path / "test_checkout.py").write_text(test, encoding="utf-8")
    return tmp_path


def test_the_readme_example_passes_as_written(example: Path) -> None:
    finished = run_pytest(example)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "1 passed" in finished.stdout


def test_the_readme_example_fails_when_the_objective_is_broken(example: Path) -> None:
    test = example / "test_checkout.py"
    written = test.read_text(encoding="utf-8")
    assert '"p99", 0.200' in written
    test.write_text(written.replace('"p99", 0.200', '"p99", 0.010'), encoding="utf-8")

    # Report the first failing rate without shrinking it, to keep this quick.
    (example / "conftest.py").write_text(
        "from hypothesis import Phase, settings\n"
        "settings.register_profile('quick', phases=[Phase.generate])\n"
        "settings.load_profile('quick')\n",
        encoding="utf-8",
    )

    finished = run_pytest(example)

    assert finished.returncode == 1
    assert "latency p99 s" in finished.stdout
    assert "is above the target 0.01" in finished.stdout
