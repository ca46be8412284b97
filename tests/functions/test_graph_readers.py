"""The failure digest and the DORA function place a pipeline through the graph as the program writes it: an index
and parts.

A reader of the index alone finds no service (the index holds everything but the services), so every digest
would be dropped as "not this platform's pipeline" and no deployment counted; and their roles must be allowed
the reads ``read_graph`` makes (``GetParameters``, ``GetParameterHistory``), not the single ``GetParameter`` of old.
"""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from components.iam.failure_digest import failure_digest_policy
from components.iam.metrics import dora_role_policy
from components.model import naming
from components.model.coordination_graph import graph_parameters
from functions.dora_metrics import handler as dora_module
from functions.failure_digest import handler as digest_module
from tests.functions.test_graph_parts import INDEX, REGION, fleet_graph, write


@pytest.mark.parametrize("module", [digest_module, dora_module], ids=["failure digest", "DORA metrics"])
def test_the_function_reads_a_graph_written_in_parts(module):
    graph = fleet_graph(120)
    parameters = graph_parameters(graph, INDEX)
    assert len(parameters.parts) > 1  # a fleet this size does not fit one standard parameter
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        write(ssm, parameters)
        read = module.graph_reader(ssm, INDEX)()
    assert read.locate("service-119-prod", "{service}-{environment}") == ("service-119", "prod")
    assert read.locate("service-000-dev", "{service}-{environment}") == ("service-000", "dev")


def test_the_digest_role_reads_the_index_and_its_parts_as_read_graph_does():
    index_arn = f"arn:aws:ssm:{REGION}:123456789012:parameter{INDEX}"
    parts_arn = f"arn:aws:ssm:{REGION}:123456789012:parameter{naming.graph_parts_pattern(INDEX)}"
    policy = failure_digest_policy(
        REGION,
        "123456789012",
        log_group_arn="arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/cicd-prod-failure-digest",
        ledger_table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/cicd-release-news-prod",
        ledger_key_arn="arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        dead_letter_arn="arn:aws:sqs:eu-west-1:123456789012:cicd-release-news-dead-letters-prod",
        environments=["dev", "prod"],
        managed_by="cicd-platform",
        stack="prod",
        graph_parameter_arns=[index_arn, parts_arn],
        reader_role_arns=[],
    )
    document = json.loads(policy) if isinstance(policy, str) else policy
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert statements["ReadPlacements"]["Action"] == ["ssm:GetParameterHistory", "ssm:GetParameters"]
    assert statements["ReadPlacements"]["Resource"] == [index_arn, parts_arn]


def test_the_dora_role_reads_the_index_and_its_parts_as_read_graph_does():
    policy = dora_role_policy(
        REGION,
        "123456789012",
        "prod",
        log_group_arn="arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/cicd-prod-dora-metrics",
        table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/cicd-dora-prod",
        key_arn="arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        dead_letter_arn="arn:aws:sqs:eu-west-1:123456789012:cicd-dora-dead-letters-prod",
        namespace="CICD/DORA",
        environments=["dev", "prod"],
    )
    document = json.loads(policy) if isinstance(policy, str) else policy
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert statements["ReadPlacements"]["Action"] == ["ssm:GetParameterHistory", "ssm:GetParameters"]
    assert statements["ReadPlacements"]["Resource"] == [
        f"arn:aws:ssm:{REGION}:123456789012:parameter{INDEX}",
        f"arn:aws:ssm:{REGION}:123456789012:parameter{naming.graph_parts_pattern(INDEX)}",
    ]
