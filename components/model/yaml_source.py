"""Strict YAML reading for user-edited files.

PyYAML silently keeps the last of two equal keys, so a service defined twice in
a mapping would vanish without a word. This loader refuses duplicate keys and
turns every parse problem into a ``PlatformInputError`` with a line number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import PlatformInputError


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that rejects duplicate mapping keys."""


class _FastStrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same on libyaml's parser, where PyYAML was built with it (its wheels are).

    Five times faster on a 1,000-service catalog, which the core and every shard of a large fleet
    read. Its error messages are terser ("found character that cannot start any token", without
    the tab it found), so a document it refuses is read again by ``_StrictLoader`` for the message.
    """


def _construct_unique_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key '{key}' (first defined on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)
_FastStrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_yaml_file(path: Path, display_name: str) -> Any:
    """Parse one YAML document, or raise a located ``PlatformInputError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlatformInputError(display_name, "file not found") from None
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise PlatformInputError(
            display_name, f"is not valid UTF-8 (line {line}, byte {error.start}); save the file as UTF-8"
        ) from None
    except OSError as error:
        raise PlatformInputError(display_name, f"cannot be read ({error.strerror})") from None
    return parse_yaml_text(text, display_name)


def parse_yaml_text(text: str, display_name: str) -> Any:
    try:
        return yaml.load(text, Loader=_FastStrictLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        pass  # read again below for the pure-Python parser's message, which names what it found
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise PlatformInputError(display_name, f"invalid YAML at {where}: {error.problem}") from None
    except yaml.YAMLError as error:
        raise PlatformInputError(display_name, f"invalid YAML: {error}") from None
