"""Where the prod stack's services run, as the rollback reporter reads it: the graph from the real catalog, in SSM."""

from __future__ import annotations

from functools import cache

from components.model import naming
from components.model.coordination_graph import coordination_graph_json
from components.model.platform_inputs import load_platform_inputs
from functions.rollback_reporter.placement import Origins, graph_reader
from tests.conftest import PROJECT_DIR, stack_settings

TOOLING, REGION = "123456789012", "eu-west-1"
GRAPH_PARAMETER = naming.graph_parameter_name("prod")


@cache
def prod_graph() -> str:
    """What ``pulumi up -s prod`` writes: booking runs in 444444444444 in prod, payments in its PCI account."""
    return coordination_graph_json(load_platform_inputs(stack_settings("prod"), "prod", PROJECT_DIR))


def put_prod_graph(ssm) -> None:
    ssm.put_parameter(Name=GRAPH_PARAMETER, Value=prod_graph(), Type="String")


def prod_origins(ssm) -> Origins:
    return Origins(graph=graph_reader(ssm, GRAPH_PARAMETER))
