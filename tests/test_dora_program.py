"""The DORA metrics in the program under mocks: the function as the house builds functions, what wakes it,
and a dashboard that shows exactly the metrics the function publishes."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.governance.lambda_function import DEPENDENCY_GRAPH, function_package
from components.metrics import dora
from components.metrics.dora_dashboard import METRICS as DASHBOARD_METRICS
from components.model import naming
from functions.dora_metrics import metrics
from functions.dora_metrics.handler import Settings
from tests.conftest import PROJECT_DIR, document, inputs_of

STACKS = ["dev_plan", "prod_plan"]
FUNCTION = "aws:lambda/function:Function"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


def one(plan, resource_type, **wanted):
    found = [i for i in inputs_of(plan, resource_type) if all(i.get(k) == v for k, v in wanted.items())]
    assert len(found) == 1, (resource_type, wanted, len(found))
    return found[0]


def dashboard(plan) -> dict:
    return json.loads(one(plan, DASHBOARD, dashboardName=naming.dora_dashboard_name(plan.stack))["dashboardBody"])


@pytest.mark.parametrize("stack", STACKS)
def test_the_dashboard_shows_exactly_the_metrics_the_function_publishes(stack, request):
    plan = request.getfixturevalue(stack)
    body = dashboard(plan)
    shown = set()
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        for metric in widget["properties"]["metrics"]:
            namespace, name, *pairs = metric
            shown.add((namespace, name, tuple(pairs[0::2])))
    published = {(metrics.NAMESPACE, name, metrics.DIMENSIONS) for name in metrics.UNITS}
    assert shown == published
    # The dashboard's own description of the metrics agrees on units too.
    assert {m.name: m.unit for m in DASHBOARD_METRICS} == metrics.UNITS


@pytest.mark.parametrize("stack", STACKS)
def test_the_dashboard_has_a_row_per_environment_and_a_service_picker_with_every_service(stack, request):
    plan = request.getfixturevalue(stack)
    body = dashboard(plan)
    environments = [env.name for env in plan.inputs.settings.environments]
    by_environment: dict[str, set[str]] = {}
    for widget in body["widgets"]:
        if widget["type"] == "metric":
            (metric,) = widget["properties"]["metrics"]
            dimensions = dict(zip(metric[2::2], metric[3::2], strict=True))
            by_environment.setdefault(dimensions["Environment"], set()).add(metric[1])
            assert widget["properties"]["region"] == plan.inputs.settings.region
    assert list(by_environment) == environments
    assert all(names == set(metrics.UNITS) for names in by_environment.values())
    (picker,) = body["variables"]
    assert (picker["type"], picker["property"], picker["inputType"]) == ("property", "Service", "select")
    assert [value["value"] for value in picker["values"]] == [s.name for s in plan.inputs.catalog.services]
    assert len(body["widgets"]) <= 500  # CloudWatch's limit per dashboard, whatever the fleet size


def test_the_seeds_targets_are_the_dashboards_horizontal_annotations(dev_plan):
    targets = {}
    for widget in dashboard(dev_plan)["widgets"]:
        if widget["type"] == "metric":
            ((annotation,),) = [widget["properties"]["annotations"]["horizontal"]]
            targets[widget["properties"]["metrics"][0][1]] = annotation["value"]
    assert targets == {
        metrics.DEPLOYMENT_FREQUENCY: 1,  # daily
        metrics.LEAD_TIME: 2 * 3600,  # two hours
        metrics.CHANGE_FAILURE_RATE: 2,  # 2 %
        metrics.TIME_TO_RESTORE: 15 * 60,  # 15 minutes
    }


@pytest.mark.parametrize("stack", STACKS)
def test_the_function_is_built_like_every_platform_function(stack, request):
    plan = request.getfixturevalue(stack)
    name = naming.function_name(naming.DORA_PURPOSE, plan.stack)
    function = one(plan, FUNCTION, name=name)
    assert function["tracingConfig"] == {"mode": "Active"}
    assert function["reservedConcurrentExecutions"] == dora.RESERVED_CONCURRENCY
    assert function["deadLetterConfig"]["targetArn"]
    assert function["kmsKeyArn"]
    variables = function["environment"]["variables"]
    settings = Settings.from_environment(variables)
    assert settings.facts_table == naming.dora_table_name(plan.stack)
    assert settings.graph_parameter == naming.graph_parameter_name(plan.stack)
    assert (settings.account_id, settings.region) == (
        plan.inputs.settings.tooling_account_id,
        plan.inputs.settings.region,
    )
    table = one(plan, "aws:dynamodb/table:Table", name=naming.dora_table_name(plan.stack))
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"]["enabled"] is True and table["serverSideEncryption"]["kmsKeyArn"]
    assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}
    logs = one(plan, "aws:cloudwatch/logGroup:LogGroup", name=f"/aws/lambda/{name}")
    assert logs["kmsKeyId"] and logs["retentionInDays"] >= 90


@pytest.mark.parametrize("stack", STACKS)
def test_deploy_outcomes_and_an_hourly_schedule_wake_the_function_and_dead_letter_what_fails(stack, request):
    plan = request.getfixturevalue(stack)
    outcomes = one(plan, RULE, name=naming.event_rule_name("dora-deploy-outcomes", plan.stack))
    pattern = json.loads(outcomes["eventPattern"])
    assert pattern["account"] == [plan.inputs.settings.tooling_account_id]
    assert pattern["detail"]["stage"] == ["Deploy"] and sorted(pattern["detail"]["state"]) == ["FAILED", "SUCCEEDED"]
    publish = one(plan, RULE, name=naming.event_rule_name("dora-publish", plan.stack))
    assert publish["scheduleExpression"] == "rate(1 hour)"
    for rule in (outcomes, publish):
        target = one(plan, TARGET, rule=rule["name"])
        assert target["arn"].endswith(f":function:{naming.function_name(naming.DORA_PURPOSE, plan.stack)}")
        assert target["deadLetterConfig"]["arn"].endswith(f"cicd-dora-metrics-{plan.stack}-dlq")


def test_the_role_publishes_only_to_the_dora_namespace_and_reads_only_this_stacks_pipelines(prod_plan):
    role = naming.function_name(naming.DORA_PURPOSE, "prod")
    policy = one(prod_plan, "aws:iam/rolePolicy:RolePolicy", role=role)
    statements = {s["Sid"]: s for s in document(policy["policy"])["Statement"]}
    assert statements["PublishDoraMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": metrics.NAMESPACE}
    }
    reads = statements["ReadPlatformPipelineExecutions"]
    assert sorted(reads["Action"]) == ["codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions"]
    assert reads["Condition"]["StringEquals"]["aws:ResourceTag/platform-stack"] == "prod"
    # By name too: only pipelines named like the stack's, one pattern per environment, not the account's every one.
    environments = [environment.name for environment in prod_plan.inputs.settings.environments]
    settings = prod_plan.inputs.settings
    assert reads["Resource"] == [
        f"arn:aws:codepipeline:{settings.region}:{settings.tooling_account_id}:*-{env}" for env in environments
    ]
    assert set(statements["RecordedDeployments"]["Action"]) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
    }


def test_the_stack_exports_where_to_find_the_dashboard(prod_plan):
    assert prod_plan.outputs["doraDashboard"] == "cicd-dora-prod"


def test_the_lambda_package_runs_as_lambda_unpacks_it_with_the_graph_vendored(tmp_path: Path):
    """Flat at the archive root, as Lambda imports it: the handler imports its siblings and ``graph``."""
    archive = function_package("dora_metrics", [DEPENDENCY_GRAPH])
    for name, asset in archive.assets.items():
        (tmp_path / name).write_text((PROJECT_DIR / asset.path).read_text(encoding="utf-8"), encoding="utf-8")
    assert "graph.py" in archive.assets and "__init__.py" not in archive.assets
    probe = "import handler; print(handler.DoraMetrics.__module__, handler.Graph.__module__)"
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["handler", "graph"]
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", *(Path(name).stem for name in archive.assets)}
    for name in archive.assets:
        tree = ast.parse((tmp_path / name).read_text(encoding="utf-8"))
        imported = {
            alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        imported |= {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
        }
        assert imported - {"functions"} <= allowed, (name, imported - allowed)
