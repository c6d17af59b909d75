"""Safe YAML loading that remembers where each value was written.

PyYAML's safe composer builds a node tree with marks; this module turns that
tree into plain Python data and keeps a map from each value's path (the tuple of
keys and indexes that pydantic reports as ``loc``) to its line and column, so
validation errors can point at the line the user wrote.
"""

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simulator.errors import Problem, ScenarioError

PathKey = tuple[str | int, ...]

MAX_VALUES = 200_000
"""The most values a scenario document may expand to."""

MAX_FILE_BYTES = 10_000_000
"""The largest scenario file read."""


@dataclass(frozen=True)
class LoadedYaml:
    """A YAML document as plain data, with the position of every value."""

    data: Any
    positions: dict[PathKey, tuple[int, int]]

    def position(self, path: PathKey) -> tuple[int | None, int | None]:
        """Return the line and column of ``path`` or of its nearest parent."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found
        return None, None


def _scalar(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_object(node, deep=True)


def _build(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: PathKey,
    positions: dict[PathKey, tuple[int, int]],
    source: str,
) -> Any:
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)

    # Aliases can make a small file expand without end (a "billion laughs").
    if len(positions) > MAX_VALUES:
        raise _problem(
            source,
            node,
            path,
            f"the document expands to more than {MAX_VALUES:,} values "
            "(aliases repeated too often)",
        )

    if isinstance(node, yaml.MappingNode):
        # Keys written here may repeat none of their own, but may override
        # keys brought in by a merge (<<), as YAML allows.
        merge_tag = "tag:yaml.org,2002:merge"
        explicit = {id(k) for k, _ in node.value if k.tag != merge_tag}
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        own: set[Any] = set()
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node)
            if not isinstance(key, Hashable):
                raise _problem(source, key_node, path, "a mapping key must be a scalar")
            if id(key_node) not in explicit:
                if key not in result:
                    result[key] = _build(
                        loader, value_node, path + (str(key),), positions, source
                    )
                continue
            if key in own:
                raise _problem(
                    source,
                    key_node,
                    path + (str(key),),
                    f"duplicate key {key!r}: each key may appear once in a mapping",
                )
            own.add(key)
            child = path + (str(key),)
            result[key] = _build(loader, value_node, child, positions, source)
            positions[child] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
        return result

    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, path + (index,), positions, source)
            for index, item in enumerate(node.value)
        ]

    return _scalar(loader, node)


def _problem(
    source: str, node: yaml.Node, path: PathKey, message: str
) -> ScenarioError:
    location = ".".join(str(part) for part in path)
    problem = Problem(
        location, message, node.start_mark.line + 1, node.start_mark.column + 1
    )
    return ScenarioError(source, [problem])


def load_yaml_text(text: str, source: str) -> LoadedYaml:
    """Parse one YAML document safely.

    Args:
        text: The document.
        source: The file name to put in error messages.

    Raises:
        ScenarioError: The text is not YAML, holds several documents or repeats
            a key.
    """
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as error:
        raise ScenarioError(source, [Problem("", f"not valid YAML: {error}")]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError(source, [Problem("", "the file is empty", 1, 1)])

        positions: dict[PathKey, tuple[int, int]] = {}
        data = _build(loader, node, (), positions, source)
        return LoadedYaml(data, positions)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        reason = error.problem or error.context or "invalid YAML"
        message = f"not valid YAML: {reason}"
        raise ScenarioError(source, [Problem("", message, line, column)]) from None
    except yaml.YAMLError as error:
        raise ScenarioError(source, [Problem("", f"not valid YAML: {error}")]) from None
    except RecursionError:
        message = "nested too deeply, or an alias refers to itself"
        raise ScenarioError(source, [Problem("", message)]) from None
    except (ValueError, OverflowError) as error:
        # A tagged or implicit scalar YAML cannot convert (2020-02-30, !!float x).
        raise ScenarioError(source, [Problem("", f"bad value: {error}")]) from None
    finally:
        loader.dispose()


def load_yaml_file(path: Path) -> LoadedYaml:
    """Read and parse a YAML file, turning I/O failures into a ScenarioError."""
    try:
        # Devices and pipes could be endless; a scenario is a regular file.
        if path.exists() and not path.is_dir() and not path.is_file():
            raise ScenarioError(str(path), [Problem("", "not a regular file")])
        if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
            message = f"larger than {MAX_FILE_BYTES // 1_000_000} MB: not a scenario"
            raise ScenarioError(str(path), [Problem("", message)])
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(path), [Problem("", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError(
            str(path), [Problem("", "is a directory, not a file")]
        ) from None
    except UnicodeDecodeError as error:
        message = f"not a UTF-8 text file (byte {error.start})"
        raise ScenarioError(str(path), [Problem("", message)]) from None
    except OSError as error:
        raise ScenarioError(
            str(path), [Problem("", error.strerror or str(error))]
        ) from None
    return load_yaml_text(text, str(path))
