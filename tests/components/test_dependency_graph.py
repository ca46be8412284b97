"""The dependency graph: cycles are found and spelled out; the deploy order respects every edge."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.model.dependency_graph import deploy_order, deploy_waves, find_cycle


def test_cycle_is_returned_closed_and_in_edge_order():
    edges = {"booking": ["payments"], "payments": ["ledger"], "ledger": ["booking"], "auth": []}
    cycle = find_cycle(edges)
    assert cycle is not None and cycle[0] == cycle[-1]
    for current, following in itertools.pairwise(cycle):
        assert following in edges[current]


def test_acyclic_graph_has_no_cycle():
    assert find_cycle({"booking": ["auth", "payments"], "payments": ["auth"], "auth": []}) is None


def test_deploy_order_refuses_a_cycle():
    with pytest.raises(ValueError, match="dependency cycle"):
        deploy_order({"a": ["b"], "b": ["a"]})


@st.composite
def acyclic_graphs(draw):
    names = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=3), unique=True, min_size=1, max_size=12))
    return {
        name: draw(st.lists(st.sampled_from(names[:index]), unique=True)) if index else []
        for index, name in enumerate(names)
    }


@given(acyclic_graphs())
def test_every_service_deploys_after_its_dependencies(edges):
    order = deploy_order(edges)
    assert sorted(order) == sorted(edges)
    position = {name: index for index, name in enumerate(order)}
    assert all(position[dep] < position[name] for name, deps in edges.items() for dep in deps)
    assert find_cycle(edges) is None


@given(acyclic_graphs(), st.data())
def test_adding_a_back_edge_creates_a_detected_cycle(edges, data):
    with_deps = [name for name, deps in edges.items() if deps]
    if not with_deps:
        return
    name = data.draw(st.sampled_from(with_deps))
    dependency = data.draw(st.sampled_from(edges[name]))
    edges[dependency] = [*edges[dependency], name]
    assert find_cycle(edges) is not None


def test_waves_group_services_whose_dependencies_are_all_in_earlier_waves():
    edges = {"booking": ["auth", "payments"], "payments": ["auth"], "auth": [], "search": []}
    assert deploy_waves(edges) == [["auth", "search"], ["payments"], ["booking"]]


def test_a_dependency_outside_the_environment_does_not_hold_a_wave():
    assert deploy_waves({"mobile-bff": ["booking"], "auth": []}) == [["auth", "mobile-bff"]]


@given(acyclic_graphs())
def test_every_service_is_in_exactly_one_wave_after_its_dependencies(edges):
    waves = deploy_waves(edges)
    wave_of = {name: index for index, wave in enumerate(waves) for name in wave}
    assert sorted(wave_of) == sorted(edges) and sum(map(len, waves)) == len(edges)
    assert all(wave_of[dep] < wave_of[name] for name, deps in edges.items() for dep in deps)
    assert all(wave == sorted(wave) for wave in waves)
