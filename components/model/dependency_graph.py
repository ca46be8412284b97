"""The service dependency graph: cycle detection and deploy order.

``depends_on`` edges decide the order in which services roll out and which
downstream services a deploy triggers. A cycle makes that order undefined, so
it is rejected with the cycle spelled out; the order itself is deterministic
(alphabetical among peers) so plans stay stable between runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from graphlib import TopologicalSorter


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One dependency cycle as ``[a, b, …, a]``, or None when the graph is acyclic."""
    visiting: list[str] = []
    state: dict[str, str] = {}

    def visit(node: str) -> list[str] | None:
        state[node] = "visiting"
        visiting.append(node)
        for dependency in sorted(edges.get(node, ())):
            if state.get(dependency) == "visiting":
                return [*visiting[visiting.index(dependency) :], dependency]
            if dependency not in state:
                cycle = visit(dependency)
                if cycle:
                    return cycle
        visiting.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def deploy_order(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """Services ordered so each comes after everything it depends on (Kahn, stable)."""
    remaining = {node: set(deps) for node, deps in edges.items()}
    order: list[str] = []
    while remaining:
        ready = sorted(node for node, deps in remaining.items() if not deps & remaining.keys())
        if not ready:
            raise ValueError(f"dependency cycle: {' -> '.join(find_cycle(edges) or [])}")
        order.extend(ready)
        for node in ready:
            del remaining[node]
    return order


def deploy_waves(edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Services grouped into waves: each wave depends only on earlier waves, so a wave may roll out at once.

    Edges to services outside ``edges`` are ignored: a dependency that does not
    deploy to an environment cannot hold a dependent there. Peers are sorted so
    the waves are stable between runs.
    """
    sorter = TopologicalSorter({node: [dep for dep in deps if dep in edges] for node, deps in edges.items()})
    sorter.prepare()  # raises graphlib.CycleError; the catalog rejects cycles long before this
    waves: list[list[str]] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        waves.append(ready)
        sorter.done(*ready)
    return waves
