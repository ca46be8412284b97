"""The coordination pieces under mocks: the gate on every Deploy stage, exact event matching, least privilege."""

from __future__ import annotations

import json

import pytest

from components.model import naming
from components.model.tags import MANAGED_BY
from tests.conftest import document, inputs_of

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FUNCTION = "aws:lambda/function:Function"


COORDINATION = "cicd:coordination:Coordination"


def resources(plan, resource_type):
    return [r for r in plan.resources if r.type == resource_type]


def coordination_resources(plan, resource_type):
    """Resources of the Coordination component only (other features declare rules, topics and functions too)."""
    return [r for r in resources(plan, resource_type) if COORDINATION in r.urn]


def coordination_inputs(plan, resource_type):
    return [r.inputs for r in coordination_resources(plan, resource_type)]


def function_policy(plan, function_role):
    """The inline policy of a function's role (policies are children of their roles)."""
    role = next(r for r in resources(plan, "aws:iam/role:Role") if r.inputs["name"] == function_role)
    (policy,) = [r for r in resources(plan, ROLE_POLICY) if r.parent == role.urn]
    return {s["Sid"]: s for s in document(policy.inputs["policy"])["Statement"]}


def as_list(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_every_deploy_stage_asks_the_one_deploy_gate_for_its_service_and_environment(stack, request):
    plan = request.getfixturevalue(stack)
    gate = naming.coordination_function_name(plan.stack, "deploy-gate")
    pipelines = inputs_of(plan, PIPELINE)
    assert len(pipelines) == sum(len(plan.inputs.environments_for(s)) for s in plan.inputs.catalog.services)
    for pipeline in pipelines:
        deploy = next(stage for stage in pipeline["stages"] if stage["name"] == "Deploy")
        condition = deploy["beforeEntry"]["condition"]
        assert condition["result"] == "FAIL"
        (rule,) = [r for r in condition["rules"] if r["name"] == "DeployGate"]
        assert rule["ruleTypeId"] == {"category": "Rule", "owner": "AWS", "provider": "LambdaInvoke", "version": "1"}
        assert rule["configuration"]["FunctionName"] == gate
        tags = pipeline["tags"]
        assert json.loads(rule["configuration"]["UserParameters"]) == {
            "service": tags["service"],
            "environment": tags["environment"],
            "healthAlarm": naming.health_alarm_name(tags["service"], tags["environment"]),
        }
    assert len([f for f in inputs_of(plan, FUNCTION) if f["name"] == gate]) == 1  # one gate for the fleet


def test_pipeline_roles_may_invoke_exactly_the_gate(prod_plan):
    gate_arn = naming.lambda_function_arn(
        prod_plan.inputs.settings.region,
        prod_plan.inputs.settings.tooling_account_id,
        naming.coordination_function_name("prod", "deploy-gate"),
    )
    checked = 0
    for service in prod_plan.inputs.catalog.services:
        statements = function_policy(prod_plan, naming.pipeline_role_name(service.name))
        assert statements["InvokeEntryRuleFunctions"] == {
            "Sid": "InvokeEntryRuleFunctions",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [gate_arn],
        }
        checked += 1
    assert checked == len(prod_plan.inputs.catalog.services)


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_the_event_rules_match_exactly_this_platforms_pipelines(stack, request):
    plan = request.getfixturevalue(stack)
    ours = {p["name"] for p in inputs_of(plan, PIPELINE)}
    patterns = [
        json.loads(r["eventPattern"])
        for r in coordination_inputs(plan, "aws:cloudwatch/eventRule:EventRule")
        if "eventPattern" in r
    ]
    matched: list[str] = []
    for pattern in patterns:
        assert pattern["source"] == ["aws.codepipeline"]
        assert pattern["detail-type"] == [
            "CodePipeline Pipeline Execution State Change",
            "CodePipeline Stage Execution State Change",
        ]
        assert all(isinstance(name, str) for name in pattern["detail"]["pipeline"])  # names, never prefixes
        assert len(json.dumps(pattern)) <= 2048
        matched += pattern["detail"]["pipeline"]
    assert sorted(matched) == sorted(ours)


def test_only_our_event_rules_may_invoke_the_coordinator(prod_plan):
    rules = {r.urn: r for r in coordination_resources(prod_plan, "aws:cloudwatch/eventRule:EventRule")}
    permissions = coordination_resources(prod_plan, "aws:lambda/permission:Permission")
    assert {p.parent for p in permissions} == set(rules)
    for permission in permissions:
        rule = rules[permission.parent]
        assert permission.inputs["principal"] == "events.amazonaws.com"
        assert permission.inputs["sourceArn"] == f"arn:aws:events:eu-west-1:123456789012:rule/{rule.inputs['name']}"
        assert permission.inputs["function"] == "cicd-prod-coordinator"


def test_the_coordinator_role_names_only_what_the_coordinator_calls(prod_plan):
    settings = prod_plan.inputs.settings
    region, account = settings.region, settings.tooling_account_id
    statements = function_policy(prod_plan, "cicd-prod-coordinator")
    assert set(statements) == {
        "Logs",
        "Ledger",
        "CoordinationKey",
        "GraphAndFreezeSwitches",
        "ReadDependencyAlarmsThroughReaders",
        "Tracing",
        "AnnounceDeploys",
        "DeadLetters",
        "RestartAndRedeployPlatformPipelines",
        "RunDependentIntegrationTests",
    }
    assert statements["Ledger"]["Action"] == [
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ]
    assert statements["Ledger"]["Resource"] == f"arn:aws:dynamodb:{region}:{account}:table/cicd-prod-deploy-ledger"
    assert statements["AnnounceDeploys"]["Resource"] == sorted(
        f"arn:aws:sns:{region}:{account}:cicd-prod-{s.name}-deployed" for s in prod_plan.inputs.catalog.services
    )
    assert statements["GraphAndFreezeSwitches"]["Resource"] == [
        f"arn:aws:ssm:{region}:{account}:parameter/cicd-platform/prod/coordination/graph",
        *(
            f"arn:aws:ssm:{region}:{account}:parameter/cicd-platform/prod/freeze/{e.name}"
            for e in settings.environments
        ),
    ]
    pipelines = statements["RestartAndRedeployPlatformPipelines"]
    assert pipelines["Action"] == ["codepipeline:RetryStageExecution", "codepipeline:StartPipelineExecution"]
    assert pipelines["Condition"] == {
        "StringEquals": {"aws:ResourceTag/managed-by": MANAGED_BY, "aws:ResourceTag/platform-stack": "prod"}
    }
    testing = {s.name for s in prod_plan.inputs.catalog.services if s.on_upstream_deploy == "test"}
    assert statements["RunDependentIntegrationTests"]["Resource"] == sorted(
        f"arn:aws:codebuild:{region}:{account}:project/{name}-integration-tests" for name in testing
    )


def test_the_gate_role_reads_decides_and_answers_but_starts_nothing(prod_plan):
    statements = function_policy(prod_plan, "cicd-prod-deploy-gate")
    actions = {action for statement in statements.values() for action in as_list(statement["Action"])}
    assert "dynamodb:DeleteItem" not in actions
    assert not {a for a in actions if a.startswith(("sns:", "codebuild:"))}
    # The bake asks whether it runs in a rollback execution, of this stack's pipelines only.
    assert statements["ReadPlatformPipelineExecutions"]["Action"] == [
        "codepipeline:GetPipelineState",
        "codepipeline:ListPipelineExecutions",
    ]
    assert statements["ReadPlatformPipelineExecutions"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/managed-by": MANAGED_BY, "aws:ResourceTag/platform-stack": "prod"}
    }
    # Its one queue: the bake deliveries Lambda gave up on.
    assert statements["DeadLetters"] == {
        "Sid": "DeadLetters",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": "arn:aws:sqs:eu-west-1:123456789012:cicd-prod-deploy-gate-dlq",
    }
    assert not {"codepipeline:StartPipelineExecution", "codepipeline:RetryStageExecution"} & actions
    assert statements["AnswerPipelineJobs"]["Action"] == [
        "codepipeline:PutJobFailureResult",
        "codepipeline:PutJobSuccessResult",
    ]


@pytest.mark.parametrize("role", ["cicd-prod-coordinator", "cicd-prod-deploy-gate"])
def test_function_roles_use_star_only_where_aws_cannot_scope(prod_plan, role):
    unscopable = {"codepipeline:PutJobFailureResult", "codepipeline:PutJobSuccessResult"}
    unscopable |= {"xray:PutTelemetryRecords", "xray:PutTraceSegments"}
    for statement in function_policy(prod_plan, role).values():
        resources_ = as_list(statement["Resource"])
        if any(resource == "*" for resource in resources_):
            assert set(as_list(statement["Action"])) <= unscopable, statement
        else:
            assert all(resource.startswith("arn:aws:") for resource in resources_), statement


def test_functions_are_pinned_traced_bounded_and_the_coordinator_has_a_dead_letter_queue(prod_plan):
    functions = {f["name"]: f for f in coordination_inputs(prod_plan, FUNCTION)}
    assert set(functions) == {"cicd-prod-coordinator", "cicd-prod-deploy-gate"}
    # CodePipeline invokes the bake action asynchronously: failed deliveries are kept, not lost.
    assert functions["cicd-prod-deploy-gate"]["deadLetterConfig"]["targetArn"].endswith(":cicd-prod-deploy-gate-dlq")
    # Claims on work (gate verdicts, bake answers) last exactly the invocation: the functions read the timeout.
    assert functions["cicd-prod-deploy-gate"]["environment"]["variables"]["FUNCTION_TIMEOUT_SECONDS"] == str(
        int(functions["cicd-prod-deploy-gate"]["timeout"])
    )
    assert int(functions["cicd-prod-deploy-gate"]["timeout"]) <= 60
    (invoke_config,) = coordination_inputs(prod_plan, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert invoke_config == {
        "functionName": "cicd-prod-deploy-gate",
        "maximumRetryAttempts": 2,
        "maximumEventAgeInSeconds": 900,
    }
    queues = {q["name"]: q for q in coordination_inputs(prod_plan, "aws:sqs/queue:Queue")}
    assert queues["cicd-prod-deploy-gate-dlq"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    for function in functions.values():
        assert function["runtime"] == "python3.12"
        assert function["tracingConfig"] == {"mode": "Active"}
        assert function["reservedConcurrentExecutions"] > 0
        assert function["handler"] == "handler.handle"
        assert function["loggingConfig"]["logGroup"] == f"/aws/lambda/{function['name']}"
    assert functions["cicd-prod-coordinator"]["deadLetterConfig"]["targetArn"].endswith(":cicd-prod-coordinator-dlq")
    for log_group in coordination_inputs(prod_plan, "aws:cloudwatch/logGroup:LogGroup"):
        if log_group["name"].startswith("/aws/lambda/"):
            assert log_group["retentionInDays"] == 90 and log_group["kmsKeyId"].startswith("arn:aws:kms:")


def test_ledger_topics_and_parameters_are_encrypted_recoverable_and_freezes_start_off(prod_plan):
    (table,) = coordination_inputs(prod_plan, "aws:dynamodb/table:Table")
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"]["enabled"] is True
    assert table["serverSideEncryption"]["kmsKeyArn"].startswith("arn:aws:kms:")
    assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}
    topics = coordination_inputs(prod_plan, "aws:sns/topic:Topic")
    assert len(topics) == len(prod_plan.inputs.catalog.services)
    assert all(topic["kmsMasterKeyId"].startswith("arn:aws:kms:") for topic in topics)
    parameters = {p["name"]: p for p in inputs_of(prod_plan, "aws:ssm/parameter:Parameter")}
    for environment in prod_plan.inputs.settings.environments:
        assert parameters[f"/cicd-platform/prod/freeze/{environment.name}"]["insecureValue"] == "off"
    graph = json.loads(parameters["/cicd-platform/prod/coordination/graph"]["insecureValue"])
    assert graph["services"]["booking"]["dependsOn"] == ["auth", "payments", "inventory", "pricing"]


def test_the_coordination_key_rotates_and_lets_logs_use_it_only_for_our_functions(prod_plan):
    (key,) = [r for r in resources(prod_plan, "aws:kms/key:Key") if r.name == "coordination-key"]
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in document(key.inputs["policy"])["Statement"]}
    logs = statements["FunctionLogsEncryption"]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert logs.endswith(":log-group:/aws/lambda/cicd-prod-*")
    assert statements["CoordinationFunctionsUseKey"]["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        "arn:aws:iam::123456789012:role/cicd-prod-coordinator",
        "arn:aws:iam::123456789012:role/cicd-prod-deploy-gate",
    ]


def test_deploy_waves_are_a_stack_output_and_in_the_plan_summary(dev_plan):
    from offline_plan.report import summary

    assert dev_plan.outputs["deployWaves"] == dev_plan.inputs.deploy_waves()
    assert summary(dev_plan)["deployWaves"]["prod"][-1] == ["web-frontend"]


PROD_READERS = [
    "arn:aws:iam::411111111111:role/cicd-alarm-reader-dev",
    "arn:aws:iam::422222222222:role/cicd-alarm-reader-qa",
    "arn:aws:iam::433333333333:role/cicd-alarm-reader-staging",
    "arn:aws:iam::444444444444:role/cicd-alarm-reader-prod",
    "arn:aws:iam::455555555555:role/cicd-alarm-reader-prod",  # payments' own PCI account
]


def test_the_graph_says_where_each_service_runs_and_which_reader_reads_its_health_there(prod_plan):
    parameters = {p["name"]: p for p in inputs_of(prod_plan, "aws:ssm/parameter:Parameter")}
    graph = json.loads(parameters["/cicd-platform/prod/coordination/graph"]["insecureValue"])
    defaults = {env.name: env.account_id for env in prod_plan.inputs.settings.environments}
    assert graph["accounts"] == defaults
    for service in prod_plan.inputs.catalog.services:
        runs_in = {**defaults, **graph["services"][service.name].get("accounts", {})}
        placed = {env.name: env.account_id for env in prod_plan.inputs.environments_for(service)}
        assert {name: runs_in[name] for name in placed} == placed
    assert graph["services"]["payments"]["accounts"] == {"prod": "455555555555"}  # its PCI account
    assert "accounts" not in graph["services"]["auth"]
    assert graph["accounts"]["prod"] == "444444444444"
    readers = [reader for by_account in graph["alarmReaders"].values() for reader in by_account.values()]
    assert sorted(reader["roleArn"] for reader in readers) == PROD_READERS
    assert {reader["region"] for reader in readers} == {prod_plan.inputs.settings.region}
    assert graph["alarmReaders"]["prod"]["455555555555"]["roleArn"] == PROD_READERS[-1]
    assert len(parameters["/cicd-platform/prod/coordination/graph"]["insecureValue"]) < 4096  # standard tier


@pytest.mark.parametrize("role", ["cicd-prod-coordinator", "cicd-prod-deploy-gate"])
def test_function_roles_may_assume_exactly_the_readers_of_the_accounts_services_run_in(prod_plan, role):
    statements = function_policy(prod_plan, role)
    readers = statements["ReadDependencyAlarmsThroughReaders"]
    assert readers["Action"] == "sts:AssumeRole"
    assert readers["Resource"] == PROD_READERS
    # Alarms are no longer read in the tooling account.
    actions = {action for statement in statements.values() for action in as_list(statement["Action"])}
    assert "cloudwatch:DescribeAlarms" not in actions


def test_the_functions_look_for_the_health_alarm_governance_creates(prod_plan):
    for function in coordination_inputs(prod_plan, FUNCTION):
        variables = function["environment"]["variables"]
        assert variables["HEALTH_ALARM_PATTERN"] == "cicd-{service}-{environment}-health"
        assert "ALARM_PREFIX_PATTERN" not in variables


def test_every_alarm_reader_trusts_the_gate_and_the_coordinator_within_the_organization(prod_plan):
    readers = [
        r for r in resources(prod_plan, "aws:iam/role:Role") if r.inputs["name"].startswith("cicd-alarm-reader-")
    ]
    assert len(readers) == len(PROD_READERS)
    for reader in readers:
        (trust,) = document(reader.inputs["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
        assert {
            "arn:aws:iam::123456789012:role/cicd-prod-coordinator",
            "arn:aws:iam::123456789012:role/cicd-prod-deploy-gate",
        } <= set(trust["Condition"]["ArnEquals"]["aws:PrincipalArn"])
        assert trust["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": "o-bkw7prodorg01"}


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_pulumi_up_never_lifts_a_freeze_an_operator_set(stack, request):
    """Operators own a freeze switch's value once it exists: ``pulumi up`` must ignore changes to it.

    Without ``ignore_changes`` on the value, every ``pulumi up`` would write ``off``
    back over ``on: <reason>`` and silently lift the freeze. The graph parameter is
    the opposite: the program owns it and rewrites it on every ``up``.
    """
    plan = request.getfixturevalue(stack)
    parameters = {r.inputs["name"]: r for r in coordination_resources(plan, "aws:ssm/parameter:Parameter")}
    switches = [name for name in parameters if name.startswith(naming.freeze_parameter_prefix(plan.stack))]
    assert len(switches) == len(plan.inputs.settings.environments)
    for name in switches:
        assert parameters[name].ignore_changes == ("insecureValue",), name
        assert parameters[name].inputs["insecureValue"] == "off"
    assert parameters[naming.graph_parameter_name(plan.stack)].ignore_changes == ()


def test_the_coordinator_hears_only_the_tooling_accounts_pipelines_and_the_functions_know_that_account(prod_plan):
    settings = prod_plan.inputs.settings
    patterns = [
        json.loads(r["eventPattern"])
        for r in coordination_inputs(prod_plan, "aws:cloudwatch/eventRule:EventRule")
        if "eventPattern" in r
    ]
    assert patterns and all(pattern["account"] == [settings.tooling_account_id] for pattern in patterns)
    for function in coordination_inputs(prod_plan, FUNCTION):
        variables = function["environment"]["variables"]
        assert (variables["TOOLING_ACCOUNT_ID"], variables["TOOLING_REGION"]) == (
            settings.tooling_account_id,
            settings.region,
        )
        # Claims on work last a little longer than the function may run (deploy_ledger.settings).
        assert variables["FUNCTION_TIMEOUT_SECONDS"] == str(int(function["timeout"]))
