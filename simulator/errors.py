"""Errors the user sees, and the exit codes that go with them.

Bad input exits with :data:`EXIT_BAD_INPUT` and one message naming the file, the
location, the value and the rule. A failure while simulating exits with
:data:`EXIT_RUNTIME`. A run whose SLOs fail exits with :data:`EXIT_SLO_FAILED`.
"""

from dataclasses import dataclass, field

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_BAD_INPUT = 2
EXIT_SLO_FAILED = 3


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file.

    Attributes:
        location: The dotted path of the value inside the file, e.g.
            ``topologies.direct.services.orders.memory``; empty for the file.
        message: What is wrong and which rule it breaks.
        line: The 1-based line in the file, when known.
        column: The 1-based column in the file, when known.
        value: The offending value as written, when there is one.
    """

    location: str
    message: str
    line: int | None = None
    column: int | None = None
    value: object = None


@dataclass
class ScenarioError(Exception):
    """A scenario file cannot be used; carries every problem found in it."""

    path: str
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """Return one line per problem: ``file:line:column: location: message``."""
        rendered = []
        for problem in self.problems:
            where = self.path
            if problem.line is not None:
                where += f":{problem.line}"
                if problem.column is not None:
                    where += f":{problem.column}"
            location = f" {problem.location}:" if problem.location else ""
            rendered.append(f"{where}:{location} {problem.message}")
        return rendered


class SimulationError(RuntimeError):
    """The simulation could not complete (a bug or an impossible model)."""
