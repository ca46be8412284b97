"""The AWS pieces the coordination functions need, created inside ``moto.mock_aws``.

Shared by the scenario tests and the release-day simulation, and shaped like
what ``components/coordination`` declares: a ledger table keyed ``pk``/``sk``,
the graph parameter, one freeze parameter per environment (``off``) and one
"deployed" topic per service.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
if str(FUNCTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS_DIR))

from deploy_ledger.settings import Settings  # noqa: E402

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account


@dataclass(frozen=True)
class World:
    settings: Settings
    topics: dict[str, str]


def settings_for(stack: str = "sim", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ledger_table": f"cicd-{stack}-deploy-ledger",
        "graph_parameter": f"/cicd-platform/{stack}/coordination/graph",
        "freeze_parameter_prefix": f"/cicd-platform/{stack}/freeze/",
        "deployed_topic_arn_pattern": f"arn:aws:sns:{REGION}:{ACCOUNT}:cicd-{stack}-{{service}}-deployed",
        "retry_base_seconds": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


def provision(settings: Settings, graph_json: str, environments: list[str], services: list[str]) -> World:
    """Create the table, parameters and topics; call inside ``mock_aws``."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=settings.ledger_table,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=settings.graph_parameter, Value=graph_json, Type="String", Tier="Intelligent-Tiering")
    for environment in environments:
        ssm.put_parameter(Name=f"{settings.freeze_parameter_prefix}{environment}", Value="off", Type="String")
    sns = boto3.client("sns", region_name=REGION)
    topics = {
        service: sns.create_topic(Name=settings.deployed_topic_arn_pattern.format(service=service).split(":")[-1])[
            "TopicArn"
        ]
        for service in services
    }
    return World(settings=settings, topics=topics)
