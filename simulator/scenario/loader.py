"""Loading a scenario file: YAML, then the schema, then cross references.

Every problem is reported with the file, the line, the dotted location, the
value and the rule it breaks, all problems of a file at once.
"""

import difflib
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simulator.errors import Problem, ScenarioError
from simulator.scenario.checks import check_prices
from simulator.scenario.model import Scenario
from simulator.scenario.references import check_references
from simulator.scenario.yamlfile import (
    LoadedYaml,
    PathKey,
    load_yaml_file,
    load_yaml_text,
)

log = logging.getLogger("simulator.scenario")


def _data_path(data: Any, loc: tuple[int | str, ...]) -> PathKey:
    """Map a pydantic ``loc`` onto the data, dropping the union tags it inserts.

    A part that names a key or index of the data is followed; the last part is
    kept even when absent (a missing or unknown key); any other part is a tag
    that pydantic added for a union member and is skipped.
    """
    path: list[str | int] = []
    node = data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, dict) and part in node:
            # A tag may also be a key (``pattern: network`` beside the
            # ``network`` settings): it is a tag when the next part is found
            # here and not under it.
            following = None if last else loc[position + 1]
            under = node[part]
            if (
                following is not None
                and following in node
                and not (isinstance(under, dict) and following in under)
            ):
                continue
            path.append(part)
            node = under
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif last and isinstance(node, dict):
            path.append(part)
    return tuple(path)


def _message(error: dict[str, Any], value: Any, path: PathKey) -> str:
    kind = error["type"]
    text = (
        str(error["msg"])
        .removeprefix("Value error, ")
        .removeprefix("Assertion failed, ")
    )
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."

    if kind == "extra_forbidden":
        return f"unknown key {path[-1]!r}: not a setting here (misspelt?)"
    if kind == "missing":
        return f"{path[-1]!r} is required here"
    if kind == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        return f"{shown} is not one of the allowed values: {expected}"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{shown} is not allowed: expected {expected}"
    if value is not None and shown not in text:
        return f"{shown}: {text}"
    return text


def _suggest(error_kind: str, path: PathKey, model_keys: list[str]) -> str:
    if error_kind != "extra_forbidden" or not path:
        return ""
    close = difflib.get_close_matches(str(path[-1]), model_keys, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _all_keys(model: type[BaseModel]) -> list[str]:
    keys: set[str] = set()
    stack: list[Any] = [model]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, type) and issubclass(item, BaseModel):
            keys.update(item.model_fields)
            for field in item.model_fields.values():
                stack.append(field.annotation)
        for argument in getattr(item, "__args__", ()) or ():
            stack.append(argument)
        for meta in getattr(item, "__metadata__", ()) or ():
            stack.append(meta)
    return sorted(keys)


def _tag_path(path: PathKey, error: dict[str, Any], value: Any) -> tuple[PathKey, Any]:
    """Point an unknown union tag at its own key (``pattern``, ``kind``)."""
    key = str(error.get("ctx", {}).get("discriminator", "")).strip("'")
    if isinstance(value, dict) and key in value:
        return path + (key,), value[key]
    return path, value


def _problems(error: ValidationError, loaded: LoadedYaml) -> list[Problem]:
    keys = _all_keys(Scenario)
    problems: list[Problem] = []
    seen: set[tuple[PathKey, str]] = set()
    for item in error.errors(include_url=False):
        path = _data_path(loaded.data, tuple(item["loc"]))
        shown = item.get("input") if item["type"] != "missing" else None
        if item["type"] == "union_tag_invalid":
            path, shown = _tag_path(path, dict(item), shown)
        message = _message(dict(item), shown, path) + _suggest(item["type"], path, keys)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        line, column = loaded.position(path)
        location = ".".join(str(part) for part in path)
        problems.append(Problem(location, message, line, column, shown))
    return problems


def parse_scenario(loaded: LoadedYaml, source: str) -> Scenario:
    """Validate loaded YAML data as a scenario.

    Raises:
        ScenarioError: With every problem found, each with its position.
    """
    if not isinstance(loaded.data, dict):
        kind = type(loaded.data).__name__
        problem = Problem("", f"a scenario is a mapping of keys, not a {kind}", 1, 1)
        raise ScenarioError(source, [problem])

    try:
        scenario = Scenario.model_validate(loaded.data)
    except ValidationError as error:
        raise ScenarioError(source, _problems(error, loaded)) from None

    try:
        broken = check_references(scenario)
        if not broken:
            broken = check_prices(scenario)
    except (ArithmeticError, ValueError) as error:
        # A value the schema let through that the model cannot be built with.
        problem = Problem("", f"the scenario cannot be built: {error}")
        raise ScenarioError(source, [problem]) from None
    if broken:
        problems = []
        for path, message in broken:
            line, column = loaded.position(path)
            location = ".".join(str(part) for part in path)
            problems.append(Problem(location, message, line, column))
        raise ScenarioError(source, problems)

    log.debug("loaded scenario %r from %s", scenario.name, source)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file.

    Raises:
        ScenarioError: The file is missing, not YAML, or not a valid scenario.
    """
    path = Path(path)
    return parse_scenario(load_yaml_file(path), str(path))


def load_scenario_text(text: str, source: str = "<scenario>") -> Scenario:
    """Parse and validate a scenario given as YAML text."""
    return parse_scenario(load_yaml_text(text, source), source)
