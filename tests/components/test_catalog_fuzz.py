"""Property: whatever a user writes, loading the catalog either succeeds or raises PlatformInputError."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.model.catalog import Catalog, parse_catalog, parse_catalog_text
from components.model.errors import PlatformInputError
from tests.conftest import PROJECT_DIR

BASE = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["auth", "ECS", "Lambda", "Server", "gcp", "bookwise/x", "123456789012", "main", "prod"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "name",
        "owner",
        "repository",
        "aws",
        "health",
        "depends_on",
        "environments",
        "accounts",
        "platform",
        "cluster",
        "target_groups",
        "function",
        "language",
        "also_deploy_to",
        "extra",
        "services",
    ]
)


def _mutate(document: Any, path: list[int], key: str, value: Any, delete: bool) -> Any:
    """Walk into the document by index choices, then replace, add or delete one key."""
    node = document
    for step in path:
        children = list(node.values()) if isinstance(node, dict) else node if isinstance(node, list) else []
        containers = [child for child in children if isinstance(child, (dict, list))]
        if not containers:
            break
        node = containers[step % len(containers)]
    if isinstance(node, dict):
        if delete and node:
            node.pop(sorted(node, key=str)[len(path) % len(node)])
        else:
            node[key] = value
    elif isinstance(node, list):
        if delete and node:
            node.pop(len(path) % len(node))
        else:
            node.append(value)
    return document


def _loads_or_reports(document: Any) -> None:
    try:
        result = parse_catalog(document, "catalog/services.yaml")
    except PlatformInputError as error:
        assert str(error).startswith("catalog/services.yaml")
        assert "\n" not in str(error)
    else:
        assert isinstance(result, Catalog)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.lists(st.integers(min_value=0, max_value=50), max_size=4),
    key=keys,
    value=values,
    delete=st.booleans(),
)
def test_mutated_catalogs_load_or_raise_the_catalog_error(path, key, value, delete):
    _loads_or_reports(_mutate(copy.deepcopy(BASE), path, key, value, delete))


@settings(max_examples=100, deadline=None)
@given(document=values)
def test_arbitrary_documents_load_or_raise_the_catalog_error(document):
    _loads_or_reports(document)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_loads_or_raises_the_catalog_error(text):
    with contextlib.suppress(PlatformInputError):
        parse_catalog_text(text, "catalog/services.yaml")
