"""Realistic AWS events from the JSON templates in ``fixtures/``, one template per kind of event.

Each template is an event as AWS documents it (the sources are listed in
``fixtures/README.md``), with ``${placeholders}`` where a value depends on the case: the
account and region it comes from, the pipeline, alarm or application, the state. Tests ask
for an event by kind and give only the values that matter to them::

    aws_event("codedeploy-deployment-state-change", account="444444444444",
              application="payments-prod", deployment_group="payments-prod", state="STOP")

``changes`` then edits the loaded event by dotted path (``{"detail.state.value": "OK"}``;
``None`` removes the key), for shapes a placeholder cannot express (a different
``userIdentity``, a missing field). The event ``id`` is derived from the kind and the values,
so two calls with the same values give the same event (a duplicate delivery), and any
difference gives a new one.
"""

from __future__ import annotations

import copy
import json
import string
import uuid
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
KINDS = tuple(sorted(path.stem for path in FIXTURES.glob("*.json")))
DEFAULTS: dict[str, str] = {
    "account": "123456789012",
    "region": "eu-west-1",
    "time": "2026-12-01T10:00:00Z",
    "start_time": "2026-12-01T09:41:02.117Z",
    "execution_id": "0f3c1a2b-1111-2222-3333-444455556666",
    "stage": "Deploy",
    "action": "Deploy",
    "provider": "CodeDeployToECS",
    "category": "Deploy",
    "previous_state": "OK",
    "deployment_id": "d-4F2T9X1QB",
    "role_name": "release-manager",
    "role_path": "/",
    "session": "alice@bookwise.example",
    "status": "Approved",
    "token": "1a2b3c4d-573f-4ea7-a67e-000000000001",
}


@cache
def _template(kind: str) -> string.Template:
    if kind not in KINDS:
        raise KeyError(f"no fixture for event kind {kind!r}; kinds: {', '.join(KINDS)}")
    return string.Template((FIXTURES / f"{kind}.json").read_text(encoding="utf-8"))


def placeholders(kind: str) -> set[str]:
    return set(_template(kind).get_identifiers())


def aws_event(kind: str, changes: Mapping[str, Any] | None = None, **values: str) -> dict[str, Any]:
    """The event of ``kind`` with ``values`` filled in (defaults for the rest), then ``changes`` applied."""
    filled = {**DEFAULTS, **values}
    seed = json.dumps([kind, sorted(filled.items()), sorted((changes or {}).items(), key=str)], default=str)
    filled.setdefault("event_id", str(uuid.uuid5(uuid.NAMESPACE_URL, seed)))
    filled.setdefault("cloudtrail_event_id", str(uuid.uuid5(uuid.NAMESPACE_DNS, seed)))
    for name, value in filled.items():
        if any(character in str(value) for character in '"\\'):
            raise ValueError(f"{name}={value!r}: a placeholder value cannot carry quotes or backslashes")
    missing = placeholders(kind) - set(filled)
    if missing:
        raise KeyError(f"{kind} needs {', '.join(sorted(missing))}")
    event = json.loads(_template(kind).substitute(filled))
    for path, value in (changes or {}).items():
        set_path(event, path, value)
    return event


def set_path(event: dict[str, Any], path: str, value: Any) -> None:
    """Set (or, for ``None``, remove) the field at a dotted path, creating objects on the way."""
    *parents, last = path.split(".")
    node = event
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = copy.deepcopy(value)
