"""``offline_plan.plan_json.dumps`` writes exactly what ``json.dumps(document, indent=2)`` writes."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offline_plan import plan_json

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
KEYS = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS)
def test_any_json_value_is_written_as_json_dumps_writes_it(document):
    assert plan_json.dumps(document) == json.dumps(document, indent=2)


def test_both_stacks_plans_are_written_byte_for_byte_as_before(dev_plan, prod_plan):
    from offline_plan.report import plan_document

    for plan in (dev_plan, prod_plan):
        document = plan_document(plan)
        assert plan_json.dumps(document) == json.dumps(document, indent=2)


def test_tuples_non_finite_floats_and_odd_keys():
    document = {"t": (1, 2.5, "é"), "n": [math.nan, math.inf, -math.inf], 7: {}, None: [], True: "\u2028", 0.5: 1e-7}
    assert plan_json.dumps(document) == json.dumps(document, indent=2)


def test_what_json_refuses_it_refuses():
    with pytest.raises(TypeError, match="not JSON serializable"):
        plan_json.dumps({"a": {1, 2}})
    with pytest.raises(TypeError, match="keys must be"):
        plan_json.dumps({(1, 2): "tuple key"})
