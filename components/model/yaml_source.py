"""Strict YAML reading for user-edited files.

PyYAML silently keeps the last of two equal keys, so a service defined twice in
a mapping would vanish without a word. This loader refuses duplicate keys and
turns every parse problem into a ``PlatformInputError`` with a line number; no
document, however broken, ends in a traceback.

Which documents are accepted is libyaml's decision wherever PyYAML was built with
it (its wheels are; ``LIBYAML`` says): YAML 1.1 as libyaml reads it, PyYAML's
constructors on top. That is a little wider than PyYAML's pure-Python parser, which
decided alone before: a few tab placements it refused are accepted (after a colon,
before a comment, at a line's end, between flow items), as are a ``?`` ending a plain
scalar in a flow collection and a comment right after a block scalar's ``|``. Where
both accept, the values are the same (a differential fuzz of about 1.9 M ASCII
documents found no difference). What libyaml refuses is refused, even where the pure
parser would have read something (an unknown ``%`` directive, a byte-order mark
mid-document, ``"\ud800"``). The pure parser only words the error better (it names
the character it found), and only where it fails on the same line; otherwise, or if
it crashes, libyaml's own located error is reported. Without libyaml the pure parser
is authoritative, and the additions above are refused.

The project's tools that read the same user-edited files (the catalog,
``Pulumi.<stack>.yaml``: offline_plan, preflight, bench, simulation) go through
``load_yaml_file``/``parse_yaml_text``, so none crashes on a file the plan accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import PlatformInputError

LIBYAML: bool = bool(getattr(yaml, "__with_libyaml__", False)) and hasattr(yaml, "CSafeLoader")
"""Whether libyaml decides what is accepted (else PyYAML's pure-Python parser does)."""


class _LocatedConstruction:
    """A value no constructor can build (a 30 February, ``!!int`` on text) is an error at its node, not a traceback."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]
        except (yaml.YAMLError, RecursionError):
            raise
        except Exception as error:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value ({error})", node.start_mark
            ) from None


class _StrictLoader(_LocatedConstruction, yaml.SafeLoader):
    """A SafeLoader that rejects duplicate mapping keys."""


class _FastStrictLoader(_LocatedConstruction, yaml.CSafeLoader if LIBYAML else yaml.SafeLoader):  # type: ignore[misc]
    """The same on libyaml's parser, where PyYAML was built with it: the one that decides (module docstring).

    Five times faster on a 1,000-service catalog, which the core and every shard of a large fleet
    read. Its error messages are terser ("found character that cannot start any token", without
    the tab it found), so a document it refuses is read again by ``_StrictLoader`` for the message.
    """


def _construct_unique_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"a key must be a plain value, not a {type(key).__name__}", key_node.start_mark
            ) from None
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
    """One YAML document as libyaml accepts it (module docstring), or a located ``PlatformInputError``."""
    try:
        return _load(text, _FastStrictLoader)
    except RecursionError:
        raise _too_deep(text, display_name) from None
    except yaml.YAMLError as error:
        refused = error
    if not LIBYAML or isinstance(refused, yaml.constructor.ConstructorError):
        raise _invalid(display_name, refused)  # the pure parser's own error, or one of the shared constructors'
    try:
        _load(text, _StrictLoader)
    except _ReaderFailure:
        pass  # the pure parser crashed where libyaml located the problem: libyaml's error stands
    except yaml.YAMLError as error:
        if _line(error) == _line(refused):
            raise _invalid(display_name, error) from None  # the same problem, worded with what was found
    except Exception:  # noqa: S110 - RecursionError, ValueError: the pure parser cannot word it
        pass
    raise _invalid(display_name, refused)


def _load(text: str, loader_class: type[yaml.SafeLoader]) -> Any:
    """``yaml.load``, with a failure of the pure scanner itself (``chr()`` of a too-large escape) located."""
    loader = loader_class(text)
    try:
        return loader.get_single_data()
    except (yaml.YAMLError, RecursionError):
        raise
    except Exception as error:
        mark = loader.get_mark() if hasattr(loader, "get_mark") else None
        raise _ReaderFailure(problem=f"cannot read this ({error})", problem_mark=mark) from None
    finally:
        loader.dispose()


class _ReaderFailure(yaml.MarkedYAMLError):
    """The parser itself failed (not the document's fault as it sees it), located where its reader stood."""


def _mark(error: yaml.YAMLError) -> Any:
    return getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)


def _line(error: yaml.YAMLError) -> int | None:
    mark = _mark(error)
    return mark.line if mark else None


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"


def _invalid(display_name: str, error: yaml.YAMLError) -> PlatformInputError:
    if not isinstance(error, yaml.MarkedYAMLError):
        return PlatformInputError(display_name, f"invalid YAML: {error}")
    return PlatformInputError(display_name, f"invalid YAML at {_where(_mark(error))}: {error.problem}")


def _too_deep(text: str, display_name: str) -> PlatformInputError:
    """Nested deeper than Python's recursion allows to build: located at the deepest collection's start.

    The parsers' events come without recursion, so the place is found even where building failed.
    """
    depth, deepest, where = 0, 0, None
    for event in yaml.parse(text, Loader=_FastStrictLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > deepest:
                deepest, where = depth, event.start_mark
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return PlatformInputError(
        display_name, f"invalid YAML at {_where(where)}: nested {deepest} levels deep, more than can be read"
    )
