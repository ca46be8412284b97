"""dependency-order: the services' deployment dependencies form an acyclic graph of services that exist.

Convention: a pipeline names the services it must be deployed after in its
``depends-on`` tag (service names separated by spaces or commas; the
``service`` tag names its own service). A dependency is checked within the
pipeline's environment: the named service must have a pipeline there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from .base import Config, PolicyResource, dig, is_unknown, stack_rule
from .pipeline_model import pipelines

DEPENDS_TAG = "depends-on"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def check_dependency_order(resources: Sequence[PolicyResource], _: Config) -> Iterator[tuple[str | None, str]]:
    by_environment: dict[str, dict[str, tuple[str | None, set[str]]]] = {}
    incomplete = False  # a pipeline whose service or environment is not known yet may be any dependency
    for pipeline in pipelines(resources):
        tags = pipeline.props.get("tags")
        service, environment, depends = (dig(tags, key) for key in ("service", "environment", DEPENDS_TAG))
        if any(is_unknown(value) for value in (tags, service, environment)):
            incomplete = True
        if not isinstance(service, str) or not isinstance(environment, str):
            continue
        needs = set(re.split(r"[\s,]+", depends.strip())) - {""} if isinstance(depends, str) else set()
        by_environment.setdefault(environment, {})[service] = (pipeline.urn, needs)
    for environment, services in sorted(by_environment.items()):
        for service, (urn, needs) in sorted(services.items()):
            for missing in sorted(needs - set(services)) if not incomplete else ():
                yield urn, f"{service} in {environment} depends on {missing}, which has no pipeline in {environment}"
        cycle = _cycle({service: needs & set(services) for service, (_, needs) in services.items()})
        if cycle:
            yield services[cycle[0]][0], f"dependency cycle in {environment}: {' -> '.join(cycle)}"


DEPENDENCY_ORDER = stack_rule(
    name="dependency-order",
    description="The service dependency graph (pipeline depends-on tags) is acyclic and every dependency exists.",
    level="mandatory",
    check=check_dependency_order,
    remediation="Fix depends_on in the catalog: name existing services and break the cycle.",
)

RULES = (DEPENDENCY_ORDER,)
