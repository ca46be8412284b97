"""Deploy gates and automatic rollback in the program under mocks, for every service of both stacks."""

from __future__ import annotations

import json

import pytest

from components.model import naming
from tests.conftest import document, inputs_of
from tests.governance.test_release_governance import chatbot_plan

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
STACKS = ["dev_plan", "prod_plan"]


def providers(plan):
    return {
        r.urn: json.loads(r.inputs["allowedAccountIds"])[0] for r in plan.resources if r.type == "pulumi:providers:aws"
    }


def deploy_stage(pipeline):
    return next(stage for stage in pipeline["stages"] if stage["name"] == "Deploy")


def placements(plan):
    for service in plan.inputs.catalog.services:
        for environment in plan.inputs.environments_for(service):
            yield service, environment


def by_name(plan, resource_type, key="name"):
    return {r.inputs[key]: r for r in plan.resources if r.type == resource_type}


def stage_rules(stage, phase):
    return [r for r in (stage.get(phase) or {}).get("condition", {}).get("rules", [])]


@pytest.mark.parametrize("stack", STACKS)
def test_every_prod_deploy_waits_for_the_window_then_the_gate_checks_the_health_alarm_at_entry(stack, request):
    plan = request.getfixturevalue(stack)
    pipelines = {p["name"]: p for p in inputs_of(plan, PIPELINE)}
    gate = naming.coordination_function_name(plan.stack, "deploy-gate")
    for service, environment in placements(plan):
        if not environment.production:
            continue
        stages = pipelines[naming.pipeline_name(service.name, environment.name)]["stages"]
        names = [stage["name"] for stage in stages]
        # The window holds the stage before Deploy, so the alarm is read when Deploy is entered, not hours earlier.
        (window,) = stages[names.index("Deploy") - 1]["onSuccess"]["condition"]["rules"]
        assert window["ruleTypeId"]["provider"] == "DeploymentWindow"
        condition = deploy_stage({"stages": stages})["beforeEntry"]["condition"]
        assert condition["result"] == "FAIL"
        (rule,) = condition["rules"]
        assert rule["ruleTypeId"] == {"category": "Rule", "owner": "AWS", "provider": "LambdaInvoke", "version": "1"}
        assert rule["configuration"]["FunctionName"] == gate
        assert json.loads(rule["configuration"]["UserParameters"])["healthAlarm"] == naming.health_alarm_name(
            service.name, environment.name
        )
        assert "roleArn" not in rule  # the gate reads the alarm through the reader; the rule assumes nothing


@pytest.mark.parametrize("stack", STACKS)
def test_no_pipeline_reads_an_alarm_through_a_cloudwatch_alarm_rule(stack, request):
    """AWS documents a rule's roleArn as the pipeline role (API reference, RuleDeclaration) and no CloudWatchAlarm
    rule reading another account's alarm; the platform's alarms live in the environment accounts."""
    plan = request.getfixturevalue(stack)
    for pipeline in inputs_of(plan, PIPELINE):
        for stage in pipeline["stages"]:
            for phase in ("beforeEntry", "onSuccess", "onFailure"):
                assert all(r["ruleTypeId"]["provider"] != "CloudWatchAlarm" for r in stage_rules(stage, phase))


@pytest.mark.parametrize("stack", STACKS)
def test_baking_environments_end_deploy_with_the_bake_and_every_environment_rolls_back_a_failed_deploy(stack, request):
    plan = request.getfixturevalue(stack)
    pipelines = {p["name"]: p for p in inputs_of(plan, PIPELINE)}
    gate = naming.coordination_function_name(plan.stack, "deploy-gate")
    baked = 0
    for service, environment in placements(plan):
        stage = deploy_stage(pipelines[naming.pipeline_name(service.name, environment.name)])
        assert stage["onFailure"] == {"result": "ROLLBACK"}  # a failed bake fails the stage: it rolls back
        assert "onSuccess" not in stage
        bakes = [a for a in stage["actions"] if a["name"] == "BakeHealthAlarm"]
        if not environment.bake_minutes:
            assert bakes == []
            continue
        (bake,) = bakes
        baked += 1
        assert (bake["category"], bake["provider"], bake["configuration"]["FunctionName"]) == ("Invoke", "Lambda", gate)
        assert json.loads(bake["configuration"]["UserParameters"]) == {
            "service": service.name,
            "environment": environment.name,
            "healthAlarm": naming.health_alarm_name(service.name, environment.name),
            "bakeMinutes": environment.bake_minutes,
        }
        others = [a.get("runOrder", 1) for a in stage["actions"] if a is not bake]
        assert bake["runOrder"] > max(others)  # after the AWS deploy and any GCP/Azure dispatch
    assert baked == sum(1 for _, environment in placements(plan) if environment.production)


@pytest.mark.parametrize("stack", STACKS)
def test_every_deployment_group_rolls_back_on_failure_and_on_its_own_alarms(stack, request):
    plan = request.getfixturevalue(stack)
    groups = by_name(plan, GROUP, key="deploymentGroupName")
    alarms = by_name(plan, METRIC_ALARM)
    account_of = providers(plan)
    for service, environment in placements(plan):
        group = groups[naming.deployment_group_name(service.name, environment.name)]
        assert group.inputs["autoRollbackConfiguration"] == {
            "enabled": True,
            "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
        }
        configuration = group.inputs["alarmConfiguration"]
        assert configuration["enabled"] is True and configuration["ignorePollAlarmFailure"] is False
        prefix = f"cicd-{service.name}-{environment.name}-"
        assert sorted(configuration["alarms"]) == sorted(name for name in alarms if name.startswith(prefix))
        assert 1 <= len(configuration["alarms"]) <= 10  # CodeDeploy watches at most ten alarms
        assert all(account_of[alarms[name].provider] == environment.account_id for name in configuration["alarms"])
        if environment.production:
            assert "AllAtOnce" not in group.inputs["deploymentConfigName"]
            assert "HalfAtATime" not in group.inputs["deploymentConfigName"]


@pytest.mark.parametrize("stack", STACKS)
def test_alarms_notify_the_encrypted_topic_of_their_own_account(stack, request):
    plan = request.getfixturevalue(stack)
    account_of = providers(plan)
    # Alarm topics live in environment accounts; the tooling account's topics belong to other features.
    topics = {
        r.inputs["name"] + "@" + account_of[r.provider]: r for r in plan.resources if r.type == TOPIC and r.provider
    }
    keys = {r.urn: r for r in plan.resources if r.type == KEY}
    for alarm in [r for r in plan.resources if r.type in (METRIC_ALARM, COMPOSITE_ALARM)]:
        account = account_of[alarm.provider]
        environment = alarm.inputs["tags"]["environment"]
        topic_arn = f"arn:aws:sns:eu-west-1:{account}:{naming.alarm_topic_name(environment)}"
        assert alarm.inputs["actionsEnabled"] is True
        assert alarm.inputs["alarmActions"] == [topic_arn]
        assert f"{naming.alarm_topic_name(environment)}@{account}" in topics
    for topic in topics.values():
        assert topic.inputs["kmsMasterKeyId"].startswith(f"arn:aws:kms:eu-west-1:{account_of[topic.provider]}:key/")
        (key,) = [k for k in keys.values() if k.parent == topic.parent]
        statements = {s["Sid"]: s for s in document(key.inputs["policy"])["Statement"]}
        assert statements["CloudWatchAlarmsPublish"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert key.inputs["enableKeyRotation"] is True
    for policy in [r.inputs for r in plan.resources if r.type == "aws:sns/topicPolicy:TopicPolicy" and r.provider]:
        (statement,) = document(policy["policy"])["Statement"]
        assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert set(statement["Condition"]["StringEquals"]) == {"aws:SourceAccount"}


def test_ecs_alarms_use_the_alb_and_target_group_arn_suffixes(prod_plan):
    alarm = by_name(prod_plan, METRIC_ALARM)["cicd-booking-prod-http-5xx"]
    dims = [q["metric"]["dimensions"] for q in alarm.inputs["metricQueries"] if "metric" in q]
    assert all(d["LoadBalancer"].startswith("app/bookwise-core-alb/") for d in dims)
    assert {d["TargetGroup"].split("/")[1] for d in dims} == {"booking-blue", "booking-green"}
    health = by_name(prod_plan, COMPOSITE_ALARM, key="alarmName")["cicd-booking-prod-health"]
    assert health.inputs["alarmRule"] == " OR ".join(
        f'ALARM("cicd-booking-prod-{signal}")' for signal in ("http-5xx", "cpu", "p99-latency")
    )


def test_pipeline_roles_assume_no_alarm_reader_and_readers_trust_only_the_platform_functions(prod_plan):
    for role in [r for r in prod_plan.resources if r.type == ROLE and r.inputs["name"].startswith("cicd-pipeline-")]:
        (policy,) = [r for r in prod_plan.resources if r.type == ROLE_POLICY and r.parent == role.urn]
        assert "cicd-alarm-reader-" not in policy.inputs["policy"]
    readers = [r for r in prod_plan.resources if r.type == ROLE and r.inputs["name"].startswith("cicd-alarm-reader-")]
    assert len(readers) == 5
    for reader in readers:
        (trust,) = document(reader.inputs["assumeRolePolicy"])["Statement"]
        assert trust["Condition"] == {
            "StringEquals": {"aws:PrincipalOrgID": "o-bkw7prodorg01"},
            "ArnEquals": {
                "aws:PrincipalArn": [
                    "arn:aws:iam::123456789012:role/cicd-prod-rollback-reporter",
                    "arn:aws:iam::123456789012:role/cicd-prod-coordinator",
                    "arn:aws:iam::123456789012:role/cicd-prod-deploy-gate",
                    # Reads a failed deployment's lifecycle events for its digest.
                    "arn:aws:iam::123456789012:role/cicd-failure-digest-prod",
                ]
            },
        }


def test_environment_accounts_forward_health_alarms_and_failed_deployments_to_the_tooling_bus(prod_plan):
    bus = "arn:aws:events:eu-west-1:123456789012:event-bus/cicd-prod-deploy-events"
    account_of = providers(prod_plan)
    rules = [r for r in prod_plan.resources if r.type == "aws:cloudwatch/eventRule:EventRule" and r.provider]
    forwarded_from = {account_of[r.provider] for r in rules}
    assert forwarded_from == {"411111111111", "422222222222", "433333333333", "444444444444", "455555555555"}
    targets = [r for r in prod_plan.resources if r.type == "aws:cloudwatch/eventTarget:EventTarget" and r.provider]
    assert {t.inputs["arn"] for t in targets} == {bus}
    for target in targets:
        account = account_of[target.provider]
        assert target.inputs["roleArn"].startswith(f"arn:aws:iam::{account}:role/cicd-event-forwarder-")
    patterns = [json.loads(r.inputs["eventPattern"]) for r in rules if account_of[r.provider] == "444444444444"]
    alarm = next(p for p in patterns if p["source"] == ["aws.cloudwatch"])
    # Names, not a wildcard: the shared prod account forwards no alarm of payments, which runs in its PCI account.
    assert "cicd-booking-prod-health" in alarm["detail"]["alarmName"]
    assert "cicd-payments-prod-health" not in alarm["detail"]["alarmName"]
    assert (alarm["account"], alarm["region"]) == (["444444444444"], ["eu-west-1"])
    policy = next(r for r in prod_plan.resources if r.type == "aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    (statement,) = document(policy.inputs["policy"])["Statement"]
    assert statement["Resource"] == bus
    assert statement["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": "o-bkw7prodorg01"}
    assert len(statement["Principal"]["AWS"]) == 5  # tests/test_event_trust_program.py: only for what they forward


def test_rollback_reporter_is_traced_bounded_and_may_roll_back_only_deploy_stages(prod_plan):
    (function,) = [
        f for f in inputs_of(prod_plan, "aws:lambda/function:Function") if f["name"] == "cicd-prod-rollback-reporter"
    ]
    assert function["runtime"] == "python3.12"
    assert function["tracingConfig"] == {"mode": "Active"}
    assert function["reservedConcurrentExecutions"] == 5
    assert (
        function["deadLetterConfig"]["targetArn"]
        == "arn:aws:sqs:eu-west-1:123456789012:cicd-prod-rollback-reporter-dlq"
    )
    assert function["kmsKeyArn"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    # Its own modules, the shared Slack client and ledger, and the graph reader (where services run).
    assert set(function["code"]["assets"]) == {
        "handler.py",
        "messages.py",
        "placement.py",
        "rollback.py",
        "slack_client.py",
        "delivery_ledger.py",
        "graph.py",
    }
    variables = function["environment"]["variables"]
    # The stack's one webhook secret (the operator's, also the release-news notifier's) and its one ledger.
    assert variables["WEBHOOK_SECRET_ID"] == "cicd-platform/slack-webhook"
    assert variables["LEDGER_TABLE"] == "cicd-delivery-ledger-prod"
    assert "TOPIC_ARN" not in variables
    assert "hooks.slack.com" not in json.dumps(variables)
    role = next(r for r in prod_plan.resources if r.type == ROLE and r.inputs["name"] == function["name"])
    (policy,) = [r for r in prod_plan.resources if r.type == ROLE_POLICY and r.parent == role.urn]
    statements = {s["Sid"]: s for s in document(policy.inputs["policy"])["Statement"]}
    assert statements["RollBackDeployStage"]["Action"] == "codepipeline:RollbackStage"
    assert all(arn.endswith("/Deploy") for arn in statements["RollBackDeployStage"]["Resource"])
    assert statements["WebhookSecret"] == {
        "Sid": "WebhookSecret",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cicd-platform/slack-webhook-??????",
    }
    assert (
        statements["DedupeLedger"]["Resource"]
        == "arn:aws:dynamodb:eu-west-1:123456789012:table/cicd-delivery-ledger-prod"
    )
    assert "ReportToReleaseNews" not in statements
    assert len(statements["ReadAlarmsThroughReaders"]["Resource"]) == 5  # one reader per environment account
    assert variables["ALARM_READER_ROLE_PREFIX"] == "cicd-alarm-reader-"
    # One webhook secret per stack, and the program creates none: the operator's secret is the only one.
    created = [s["name"] for s in inputs_of(prod_plan, "aws:secretsmanager/secret:Secret")]
    assert not [name for name in created if "slack" in name or name.startswith(function["name"])]
    assert "rollbackWebhookSecretArn" not in prod_plan.outputs
    rules = {
        r.urn: r
        for r in prod_plan.resources
        if r.type == "aws:cloudwatch/eventRule:EventRule" and r.inputs["name"].startswith(function["name"])
    }
    permissions = [
        r
        for r in prod_plan.resources
        if r.type == "aws:lambda/permission:Permission" and r.inputs["function"] == function["name"]
    ]
    assert {p.parent for p in permissions} == set(rules)
    assert all(p.inputs["principal"] == "events.amazonaws.com" and p.inputs["sourceArn"] for p in permissions)
    (log_group,) = [
        g
        for g in inputs_of(prod_plan, "aws:cloudwatch/logGroup:LogGroup")
        if g["name"] == f"/aws/lambda/{function['name']}"
    ]
    assert log_group["retentionInDays"] == 90 and log_group["kmsKeyId"].startswith("arn:aws:kms:")


REPORTER = "urn:pulumi:prod::cicd-platform::cicd:platform:Platform$cicd:governance:RollbackReporter"
MOVED_INTO_PLATFORM_FUNCTION = [
    f"{REPORTER}$aws:lambda/function:Function::rollback-reporter-function",
    f"{REPORTER}$aws:iam/role:Role::rollback-reporter-role",
    f"{REPORTER}$aws:iam/role:Role$aws:iam/rolePolicy:RolePolicy::rollback-reporter-policy",
    f"{REPORTER}$aws:iam/role:Role$aws:iam/rolePolicyAttachment:RolePolicyAttachment::rollback-reporter-tracing",
    f"{REPORTER}$aws:cloudwatch/logGroup:LogGroup::rollback-reporter-logs",
]


def former_urns(by_urn, resource) -> set[str]:
    """The URNs the engine matches a resource against: its own, its aliases, and those inherited from its parent's."""
    urns = {resource.urn, *resource.aliases}
    parent = by_urn.get(resource.parent)
    if parent is not None:
        for former_parent in former_urns(by_urn, parent) - {parent.urn}:
            chain = former_parent.split("::")[2]
            urns.add(f"urn:pulumi:prod::cicd-platform::{chain}${resource.type}::{resource.name}")
    return urns


def test_the_reporters_named_resources_keep_their_identity_inside_platform_function(prod_plan):
    """A named function, role or log group that Pulumi replaced would collide with itself: aliases make it a move."""
    by_urn = {r.urn: r for r in prod_plan.resources}
    known = set().union(*(former_urns(by_urn, r) for r in prod_plan.resources if "rollback-reporter" in r.name))
    assert [urn for urn in MOVED_INTO_PLATFORM_FUNCTION if urn not in known] == []


def test_through_chatbot_the_reporter_publishes_to_release_news_and_reads_no_secret(tmp_path):
    plan = chatbot_plan(tmp_path)
    (function,) = [
        f for f in inputs_of(plan, "aws:lambda/function:Function") if f["name"] == "cicd-dev-rollback-reporter"
    ]
    topic_arn = plan.outputs["releaseNewsTopicArn"]
    variables = function["environment"]["variables"]
    assert variables["TOPIC_ARN"] == topic_arn and "WEBHOOK_SECRET_ID" not in variables
    role = next(r for r in plan.resources if r.type == ROLE and r.inputs["name"] == function["name"])
    (policy,) = [r for r in plan.resources if r.type == ROLE_POLICY and r.parent == role.urn]
    statements = {s["Sid"]: s for s in document(policy.inputs["policy"])["Statement"]}
    assert "WebhookSecret" not in statements
    assert statements["ReportToReleaseNews"]["Action"] == "sns:Publish"
    assert statements["ReportToReleaseNews"]["Resource"] == topic_arn
    news_key = next(r for r in plan.resources if r.type == KEY and r.name == "release-news-key")
    assert statements["ReleaseNewsKey"]["Resource"] == news_key.inputs.get(
        "arn", statements["ReleaseNewsKey"]["Resource"]
    )
    assert statements["ReleaseNewsKey"]["Resource"].startswith("arn:aws:kms:")
    # The topic's policy and key name their publishers: the reporter is one of them here.
    reporter_role = "arn:aws:iam::210987654321:role/cicd-dev-rollback-reporter"
    topic_policy = next(r for r in plan.resources if r.type == "aws:sns/topicPolicy:TopicPolicy" and not r.provider)
    publish = {s["Sid"]: s for s in document(topic_policy.inputs["policy"])["Statement"]}["PlatformRolesPublish"]
    key_use = {s["Sid"]: s for s in document(news_key.inputs["policy"])["Statement"]}["PublishersUseKey"]
    assert reporter_role in publish["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert reporter_role in key_use["Condition"]["ArnLike"]["aws:PrincipalArn"]


def test_with_a_webhook_the_reporter_is_no_release_news_publisher(prod_plan):
    key = next(r for r in prod_plan.resources if r.type == KEY and r.name == "release-news-key")
    key_use = {s["Sid"]: s for s in document(key.inputs["policy"])["Statement"]}["PublishersUseKey"]
    assert not [arn for arn in key_use["Condition"]["ArnLike"]["aws:PrincipalArn"] if "rollback-reporter" in arn]


def test_resources_each_service_adds_for_gates_and_rollback(prod_plan):
    """Signal alarms + one health alarm per environment; nothing else is per service."""
    for service in prod_plan.inputs.catalog.services:
        signals = sum(v is not None for v in service.health.model_dump().values())
        environments = len(prod_plan.inputs.environments_for(service))
        alarms = [
            r
            for r in prod_plan.resources
            if r.type in (METRIC_ALARM, COMPOSITE_ALARM) and r.inputs["tags"]["service"] == service.name
        ]
        assert len(alarms) == environments * (signals + 1)
