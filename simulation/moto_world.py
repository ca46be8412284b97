"""The AWS pieces the coordination functions need, created inside ``moto.mock_aws``.

Shared by the scenario tests and the release-day simulation, and shaped like
what ``components/coordination`` declares: a ledger table keyed ``pk``/``sk``,
the graph parameter, one freeze parameter per environment (``off``) and one
"deployed" topic per service. And, as governance creates them, each service's
health alarm ``cicd-<service>-<env>-health`` (state OK) in the account where it
runs in that environment, wherever the graph names an alarm reader for it.
moto has no composite alarms, so it is a metric alarm of that name here; the
functions read either type.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session

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
        "account_id": ACCOUNT,
        "region": REGION,
    }
    values.update(overrides)
    return Settings(**values)


_SERVICE_MODELS = botocore.loaders.create_loader()
"""One loader of botocore's service descriptions for every account session: each new session would
otherwise read and parse them from disk again, which was most of the cost of building a world."""


def account_session(account_id: str) -> boto3.Session:
    """A session in another (moto) account: moto files what it creates under the assumed role's account."""
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/moto-world-admin", RoleSessionName="moto-world"
    )["Credentials"]
    core = botocore.session.get_session()
    core.register_component("data_loader", _SERVICE_MODELS)
    return boto3.Session(
        botocore_session=core,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def health_alarm_client(account_id: str, region: str = REGION) -> Any:
    return account_session(account_id).client("cloudwatch", region_name=region)


def put_health_alarm(
    settings: Settings, service: str, environment: str, account_id: str, region: str = REGION, client: Any = None
) -> str:
    """The alarm, in OK; ``client`` is a CloudWatch client in that account and region, made here if not given."""
    name = settings.health_alarm_pattern.format(service=service, environment=environment)
    client = client or health_alarm_client(account_id, region)
    client.put_metric_alarm(
        AlarmName=name,
        MetricName="HealthyHostCount",
        Namespace="AWS/ApplicationELB",
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
    )
    client.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="healthy")
    return name


def set_health(
    settings: Settings, service: str, environment: str, account_id: str, state: str, reason: str, region: str = REGION
) -> None:
    name = settings.health_alarm_pattern.format(service=service, environment=environment)
    health_alarm_client(account_id, region).set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def provision_health_alarms(settings: Settings, graph_json: str) -> None:
    """Each service's health alarm, in OK, wherever the graph says a gate reads it."""
    graph = json.loads(graph_json)
    readers = graph.get("alarmReaders", {})
    clients: dict[tuple[str, str], Any] = {}  # one per account and region: a session per alarm is slow
    for service, entry in graph["services"].items():
        for environment in entry.get("environments", []):
            account = entry.get("accounts", {}).get(environment) or graph.get("accounts", {}).get(environment)
            reader = readers.get(environment, {}).get(account)
            if reader:
                where = (account, reader["region"])
                if where not in clients:
                    clients[where] = health_alarm_client(*where)
                put_health_alarm(settings, service, environment, account, reader["region"], clients[where])


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
    provision_health_alarms(settings, graph_json)
    return World(settings=settings, topics=topics)


def scheduled_tick(settings: Settings, moment: datetime, rule: str = "cicd-sim-coordinator-tick") -> dict[str, Any]:
    """The event EventBridge sends for a scheduled rule (EventBridge user guide, "Scheduled Event")."""
    return {
        "version": "0",
        "id": f"tick-{moment:%Y%m%d%H%M%S}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": settings.account_id,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": settings.region,
        "resources": [f"arn:aws:events:{settings.region}:{settings.account_id}:rule/{rule}"],
        "detail": {},
    }
