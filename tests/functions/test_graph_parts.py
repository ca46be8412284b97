"""The dependency graph in parts: what ``pulumi up`` writes (``components/model/coordination_graph.py``) is what
the coordination functions and the rollback reporter read back (``functions/deploy_ledger/graph.py``).

A fleet's graph passes the 8 KB of an advanced parameter at about 60 services (Systems Manager user guide,
"Managing parameter tiers": standard 4 KB, advanced 8 KB), so it is an index plus standard-tier parts. The
index is written last; a reader that meets a part rewritten after it read the index (a ``pulumi up`` in
flight, or one that failed before reaching the index) takes the part's version the index names from
``GetParameterHistory`` and never mixes two graphs.
"""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from components.model import naming
from components.model.coordination_graph import GraphParameters, graph_parameters
from functions.deploy_ledger.graph import Graph, GraphUnreadableError, read_graph
from functions.rollback_reporter.placement import graph_reader

REGION = "eu-west-1"
INDEX = naming.graph_parameter_name("prod")
ACCOUNTS = {"dev": "111111111111", "prod": "222222222222"}
STANDARD_TIER_LIMIT = 4096


def fleet_graph(size: int, generation: int = 0) -> dict:
    """A graph of ``size`` services, each depending on its predecessor; ``generation`` tells two versions apart."""
    names = [f"service-{number:03d}" for number in range(size)]
    return {
        "formatVersion": 1,
        "services": {
            name: {
                "dependsOn": names[max(0, number - 1 - generation) : number],
                "environments": ["dev", "prod"],
                "onUpstreamDeploy": "test" if number % 3 == 0 else "none",
                **({"accounts": {"prod": "333333333333"}} if number % 7 == 0 else {}),
            }
            for number, name in enumerate(names)
        },
        "accounts": ACCOUNTS,
        "regions": {"dev": REGION, "prod": REGION},
        "alarmReaders": {
            env: {account: {"region": REGION, "roleArn": f"arn:aws:iam::{account}:role/cicd-alarm-reader-{env}"}}
            for env, account in ACCOUNTS.items()
        },
    }


def write(ssm, parameters: GraphParameters, *, index: bool = True) -> None:
    """As the Coordination component orders it: every part, then (unless a run stops short) the index."""
    for name, value in parameters.parts.items():
        ssm.put_parameter(Name=name, Value=value, Type="String", Tier="Standard", Overwrite=True)
    if index:
        ssm.put_parameter(Name=parameters.index_name, Value=parameters.index, Type="String", Overwrite=True)


def calls(ssm):
    return lambda operation, **kwargs: getattr(ssm, operation)(**kwargs)


@pytest.fixture
def ssm():
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


def test_a_hundred_service_graph_is_written_in_standard_parts_and_read_back_whole(ssm):
    graph = fleet_graph(100)
    parameters = graph_parameters(graph, INDEX)
    assert len(json.dumps(graph, separators=(",", ":")).encode()) > 8 * 1024, "the point: one parameter cannot hold it"
    assert len(parameters.parts) > 1
    assert all(len(value.encode()) <= STANDARD_TIER_LIMIT for value in parameters.parts.values())
    assert len(parameters.index.encode()) <= STANDARD_TIER_LIMIT
    write(ssm, parameters)

    assert read_graph(calls(ssm), INDEX) == Graph.from_document(graph)
    assert graph_reader(ssm, INDEX)() == Graph.from_document(graph), "the rollback reporter reads the same graph"


def test_parts_rewritten_after_the_index_was_read_are_taken_from_their_history(ssm):
    old, new = fleet_graph(100), fleet_graph(100, generation=1)
    write(ssm, graph_parameters(old, INDEX))
    # A pulumi up that wrote the new parts and failed (or has not yet got) to the index.
    write(ssm, graph_parameters(new, INDEX), index=False)

    assert read_graph(calls(ssm), INDEX) == Graph.from_document(old)

    write(ssm, graph_parameters(new, INDEX))
    assert read_graph(calls(ssm), INDEX) == Graph.from_document(new)


def test_history_is_paged_until_the_version_the_index_names(ssm):
    parameters = graph_parameters(fleet_graph(100), INDEX)
    write(ssm, parameters)
    first_part = next(iter(parameters.parts))
    for attempt in range(60):  # more versions than one page of GetParameterHistory (50)
        ssm.put_parameter(Name=first_part, Value=f'{{"services":{{"x{attempt}":{{}}}}}}', Overwrite=True)

    assert read_graph(calls(ssm), INDEX) == Graph.from_document(fleet_graph(100))


def test_a_part_whose_indexed_version_is_gone_makes_the_graph_unreadable(ssm):
    parameters = graph_parameters(fleet_graph(100), INDEX)
    write(ssm, parameters)
    ssm.delete_parameter(Name=next(iter(parameters.parts)))
    with pytest.raises(GraphUnreadableError, match="do not exist"):
        read_graph(calls(ssm), INDEX)

    ssm.put_parameter(Name=next(iter(parameters.parts)), Value='{"services":{}}', Type="String")
    with pytest.raises(GraphUnreadableError, match=r"no version of .*-part-1 matches"):
        read_graph(calls(ssm), INDEX)


def test_a_missing_index_makes_the_graph_unreadable(ssm):
    with pytest.raises(GraphUnreadableError, match="do not exist"):
        read_graph(calls(ssm), INDEX)


def test_a_graph_written_whole_by_an_earlier_release_is_still_read(ssm):
    """Upgrading: until ``pulumi up`` rewrites it, the graph is the single document of format 1."""
    graph = fleet_graph(10)
    ssm.put_parameter(Name=INDEX, Value=json.dumps(graph), Type="String")
    assert read_graph(calls(ssm), INDEX) == Graph.from_document(graph)


def test_parts_are_read_in_batches_get_parameters_accepts(ssm):
    """GetParameters takes at most 10 names (SSM API reference); a 200-service graph has more parts than that."""
    graph = fleet_graph(200)
    parameters = graph_parameters(graph, INDEX, limit=1500)
    assert len(parameters.parts) > 10
    write(ssm, parameters)
    assert read_graph(calls(ssm), INDEX) == Graph.from_document(graph)
