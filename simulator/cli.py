"""The ``isc-sim`` command: run, validate, schema.

The report goes to stdout; logs and the progress bar to stderr. Bad input exits
2 with one line per problem (file, line, location, value, rule); a failure
while simulating exits 1.
"""

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from simulator import __version__
from simulator.engine.simulation import planned_horizon_s
from simulator.errors import EXIT_BAD_INPUT, EXIT_RUNTIME, ScenarioError
from simulator.report.document import build_document
from simulator.report.formats import to_csv, to_json
from simulator.report.table import render
from simulator.runner import run_scenario
from simulator.scenario.loader import load_scenario
from simulator.scenario.model import Scenario

log = logging.getLogger("simulator.cli")


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("simulator")
    package.handlers[:] = [handler]
    package.setLevel(level)
    package.propagate = False


def _load(path: str) -> Scenario:
    return load_scenario(path)


def _fail_input(error: ScenarioError) -> None:
    for line in error.lines():
        click.echo(f"error: {line}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="isc-sim")
@click.option(
    "-v", "--verbose", count=True, help="More logging on stderr (-vv: debug)."
)
def main(verbose: int) -> None:
    """Simulate inter-service communication: latency, throughput, monthly cost."""
    _setup_logging(verbose)


@main.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Report format on stdout.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), help="Override the scenario's seed."
)
@click.option(
    "--replications", type=click.IntRange(min=1), help="Override run.replications."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes to run replications in; results are identical to a serial run.",
)
def run(
    scenario_file: str,
    output_format: str,
    seed: int | None,
    replications: int | None,
    workers: int,
) -> None:
    """Simulate every topology of SCENARIO_FILE and report them side by side."""
    try:
        scenario = _load(scenario_file)
    except ScenarioError as error:
        _fail_input(error)
        return

    changes: dict[str, Any] = {}
    if seed is not None:
        changes["seed"] = seed
    if replications is not None:
        changes["run"] = scenario.run.model_copy(update={"replications": replications})
    scenario = scenario.model_copy(update=changes)

    try:
        result = _run_with_progress(scenario, scenario_file, workers)
        document = build_document(result)
        report = None
        if output_format == "json":
            report = to_json(document)
        elif output_format == "csv":
            report = to_csv(document)
    except Exception as error:  # a bug or an impossible model: say so, exit 1
        log.debug("simulation failed", exc_info=True)
        click.echo(f"error: simulation of {scenario_file} failed: {error}", err=True)
        sys.exit(EXIT_RUNTIME)

    try:
        if report is not None:
            sys.stdout.write(report)
            sys.stdout.flush()
        else:
            console = Console(highlight=False, markup=False)
            if not console.is_terminal:
                # A report piped to a file or a pager should not wrap at 80 columns.
                console = Console(highlight=False, markup=False, width=140)
            render(document, console)
    except OSError as error:
        click.echo(
            f"error: cannot write the report: {error.strerror or error}", err=True
        )
        sys.exit(EXIT_RUNTIME)


def _run_with_progress(scenario: Scenario, source: str, workers: int) -> Any:
    console = Console(stderr=True)
    if not console.is_terminal:
        return run_scenario(scenario, source, workers)

    horizon = planned_horizon_s(scenario)
    tasks = len(scenario.topologies) * scenario.run.replications
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("simulating", total=tasks * horizon)
        done: dict[tuple[str, int], float] = {}

        def advance(topology: str, replication: int, reached: float) -> None:
            done[(topology, replication)] = reached
            progress.update(
                bar,
                completed=sum(done.values()),
                description=f"{topology} #{replication + 1}",
            )

        return run_scenario(scenario, source, workers, advance)


@main.command()
@click.argument("scenario_files", nargs=-1, required=True, type=str)
def validate(scenario_files: tuple[str, ...]) -> None:
    """Check scenario files without running them."""
    failed = False
    for path in scenario_files:
        try:
            scenario = _load(path)
        except ScenarioError as error:
            failed = True
            for line in error.lines():
                click.echo(f"error: {line}", err=True)
            continue
        click.echo(
            f"{path}: ok: {scenario.name!r}, {len(scenario.topologies)} topologies"
        )
    if failed:
        sys.exit(EXIT_BAD_INPUT)


@main.command()
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
def schema(output: Path | None) -> None:
    """Print the JSON Schema of scenario files, for editors."""
    document = Scenario.model_json_schema(mode="validation")
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "isc-sim scenario"
    text = json.dumps(document, indent=2) + "\n"
    try:
        if output is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            output.write_text(text, encoding="utf-8")
    except OSError as error:
        where = output if output is not None else "stdout"
        click.echo(f"error: cannot write {where}: {error.strerror or error}", err=True)
        sys.exit(EXIT_BAD_INPUT if output is not None else EXIT_RUNTIME)
