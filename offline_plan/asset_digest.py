"""Plan documents of two checkouts made comparable: file assets by their content, not where they were read.

A Lambda's code is a Pulumi asset archive; the plan records the path of each file, often absolute
(``/home/me/cicd-platform/functions/...``). Two checkouts of the same commit would differ in every path,
and a changed handler would not differ at all. ``pulumi preview`` compares the archive's hash; here each
file asset gets its path relative to the project and a ``sha256`` of its content, which must be taken
while the checkout exists (the base plan's temporary worktree is removed afterwards).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

from .value_diff import CONTENT_DIGEST_FIELD


def _digest(path: Path) -> str | None:
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if path.is_dir():
        combined = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            combined.update(file.relative_to(path).as_posix().encode() + b"\0")
            combined.update(hashlib.sha256(file.read_bytes()).digest())
        return combined.hexdigest()
    return None


def _asset(value: dict[str, Any], project_dir: Path) -> dict[str, Any]:
    path = Path(value["path"])
    resolved = (path if path.is_absolute() else project_dir / path).resolve()
    try:
        shown = resolved.relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        return value  # not a file of the project: nothing to read, nothing to relativise
    digest = _digest(resolved)
    return {"path": shown, CONTENT_DIGEST_FIELD: digest} if digest is not None else {"path": shown}


def _walk(value: Any, project_dir: Path) -> Any:
    if isinstance(value, dict):
        if set(value) == {"path"} and isinstance(value["path"], str):
            return _asset(value, project_dir)
        return {key: _walk(item, project_dir) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, project_dir) for item in value]
    return value


def comparable(document: dict[str, Any], project_dir: Path) -> dict[str, Any]:
    """A copy of ``document`` whose file assets are relative to ``project_dir`` and carry their content digest."""
    result = copy.copy(document)
    result["resources"] = [
        {**resource, "inputs": _walk(resource.get("inputs") or {}, project_dir)}
        for resource in document.get("resources", [])
    ]
    return result
