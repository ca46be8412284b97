"""Release governance under mocks: approvals gate deploys, only release managers approve prod, news is encrypted."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest
import yaml

from components import iam
from components.model import naming
from components.model.release_approvals import production_approval_pipelines
from offline_plan.report import plan_document, write_guardrail_scp
from tests.conftest import PROJECT_DIR, document, inputs_of, with_dependencies
from tests.shared_plans import shared_plan

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TOPIC = "aws:sns/topic:Topic"
FUNCTION = "aws:lambda/function:Function"
RELEASE_MANAGERS = {"release-manager", "release-manager-oncall"}


RELEASE_GOVERNANCE = ("cicd:governance:ReleaseNews", "cicd:governance:ApprovalGovernance")


def ours(plan):
    """Resources of release news and approvals (other features declare topics, rules and functions too)."""
    return [r for r in plan.resources if any(component in r.urn for component in RELEASE_GOVERNANCE)]


def one(plan, resource_type, *, anywhere=False, **wanted):
    found = [
        r
        for r in (plan.resources if anywhere else ours(plan))
        if r.type == resource_type and all(r.inputs.get(k) == v for k, v in wanted.items())
    ]
    assert len(found) == 1, (resource_type, wanted, len(found))
    return found[0]


def stage_names(pipeline) -> list[str]:
    return [stage["name"] for stage in pipeline["stages"]]


def approval_action(pipeline) -> dict:
    (stage,) = [stage for stage in pipeline["stages"] if stage["name"] == "Approve"]
    (action,) = stage["actions"]
    return action


def grants_put_approval(statement: dict) -> bool:
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    return statement.get("Effect") == "Allow" and any(
        fnmatch.fnmatch("codepipeline:PutApprovalResult".lower(), action.lower()) for action in actions
    )


@pytest.mark.parametrize("plan_name", ["dev_plan", "prod_plan"])
def test_approval_precedes_deploy_wherever_the_environment_asks_for_it(request, plan_name):
    plan = request.getfixturevalue(plan_name)
    approving = {env.name for env in plan.inputs.settings.environments if env.approval}
    for pipeline in inputs_of(plan, PIPELINE):
        environment = pipeline["tags"]["environment"]
        names = stage_names(pipeline)
        if environment in approving:
            assert names.index("Approve") < names.index("Deploy"), pipeline["name"]
            assert approval_action(pipeline)["provider"] == "Manual"
        else:
            assert "Approve" not in names, pipeline["name"]


def test_every_approval_publishes_to_the_release_news_topic_with_commit_and_execution(prod_plan):
    topic_arn = prod_plan.outputs["releaseNewsTopicArn"]
    assert topic_arn == "arn:aws:sns:eu-west-1:123456789012:cicd-release-news-prod"
    for pipeline in inputs_of(prod_plan, PIPELINE):
        if "Approve" in stage_names(pipeline):
            assert approval_action(pipeline)["configuration"]["NotificationArn"] == topic_arn
    configuration = approval_action(next(p for p in inputs_of(prod_plan, PIPELINE) if p["name"] == "booking-prod"))[
        "configuration"
    ]
    assert (
        configuration["ExternalEntityLink"] == "https://github.com/bookwise/booking/commit/#{SourceVariables.CommitId}"
    )
    custom = configuration["CustomData"]
    assert custom.startswith("Release booking to prod | owner: ")
    assert "repository: bookwise/booking" in custom
    assert (
        "commit: #{SourceVariables.CommitId}" in custom and "execution: #{codepipeline.PipelineExecutionId}" in custom
    )
    assert len(custom) <= 500  # CodePipeline's limit for CustomData


def test_pipeline_roles_may_publish_approval_requests_to_the_encrypted_topic(prod_plan):
    policy = one(prod_plan, ROLE_POLICY, anywhere=True, role="cicd-pipeline-booking")
    statements = {s["Sid"]: s for s in document(policy.inputs["policy"])["Statement"]}
    assert statements["ApprovalRequests"] == {
        "Sid": "ApprovalRequests",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": prod_plan.outputs["releaseNewsTopicArn"],
    }
    key = next(r for r in prod_plan.resources if r.type == "aws:kms/key:Key" and r.name == "release-news-key")
    assert statements["ApprovalRequestsKey"]["Resource"] == key.inputs.get(
        "arn", statements["ApprovalRequestsKey"]["Resource"]
    )
    assert statements["ApprovalRequestsKey"]["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]


def test_only_release_manager_roles_can_approve_prod_and_on_exactly_the_prod_approval_actions(prod_plan):
    created_roles = {r.inputs["name"] for r in prod_plan.resources if r.type == ROLE}
    assert not created_roles & RELEASE_MANAGERS
    assert len(production_approval_pipelines(prod_plan.inputs)) == len(prod_plan.inputs.catalog.services)
    # Every prod approval action by the name pattern the guardrail SCP reserves to release managers: one ARN
    # per pipeline passes the role's 10,240 characters of inline policy at about 60 services.
    expected = {naming.approval_action_arn("eu-west-1", "123456789012", "*-prod")}
    granted_to: dict[str, set[str]] = {}
    for policy in inputs_of(prod_plan, ROLE_POLICY):
        for statement in document(policy["policy"])["Statement"]:
            if grants_put_approval(statement):
                resources = statement["Resource"]
                granted_to.setdefault(policy["role"], set()).update(
                    [resources] if isinstance(resources, str) else resources
                )
    assert set(granted_to) == RELEASE_MANAGERS
    for role, resources in granted_to.items():
        assert resources == expected, role
        assert all(arn.endswith("-prod/Approve/ReleaseApproval") for arn in resources)


def test_release_manager_grant_also_reads_the_state_of_those_pipelines_and_fits_an_inline_policy(prod_plan):
    policy = one(prod_plan, ROLE_POLICY, role="release-manager")
    assert policy.inputs["name"] == "cicd-platform-approve-prod-prod"
    statements = {s["Sid"]: s for s in document(policy.inputs["policy"])["Statement"]}
    assert statements["ReadProdPipelineState"]["Action"] == "codepipeline:GetPipelineState"
    assert all(arn.endswith("-prod") for arn in statements["ReadProdPipelineState"]["Resource"])
    assert len(policy.inputs["policy"]) < 10_240  # IAM's limit for all inline policies of one role


def test_guardrail_scp_denies_everyone_but_the_release_managers(prod_plan):
    scp = json.loads(prod_plan.outputs["approvalGuardrailScp"])
    (statement,) = scp["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "codepipeline:PutApprovalResult"
    assert statement["Resource"] == ["arn:aws:codepipeline:eu-west-1:123456789012:*-prod/Approve/ReleaseApproval"]
    assert statement["Condition"] == {
        "ArnNotLike": {
            "aws:PrincipalArn": [
                "arn:aws:iam::123456789012:role/release-manager",
                "arn:aws:iam::123456789012:role/release-manager-oncall",
            ]
        }
    }


def test_guardrail_scp_stays_under_the_organizations_size_limit_whatever_the_fleet():
    managers = [f"arn:aws:iam::123456789012:role/release-managers/team-{i:02d}-release-manager" for i in range(40)]
    scp = iam.scp_text(iam.approval_guardrail_scp("eu-west-1", "123456789012", ["prod", "prod-eu"], managers))
    assert len(scp) <= iam.SCP_SIZE_LIMIT
    assert json.loads(scp)["Statement"][0]["Resource"][1].endswith(":*-prod-eu/Approve/ReleaseApproval")


def test_offline_plan_writes_the_scp_for_the_organization_admin(prod_plan, tmp_path):
    path = write_guardrail_scp(plan_document(prod_plan), tmp_path)
    assert path == tmp_path / "scp-prod.json"
    text = path.read_text().strip()
    assert text == prod_plan.outputs["approvalGuardrailScp"] and len(text) <= iam.SCP_SIZE_LIMIT


def test_release_news_topic_is_encrypted_with_a_rotating_key_and_has_no_public_principal(prod_plan):
    topic = one(prod_plan, TOPIC, name="cicd-release-news-prod")
    key = next(r for r in prod_plan.resources if r.type == "aws:kms/key:Key" and r.name == "release-news-key")
    assert topic.inputs["kmsMasterKeyId"] == key.inputs.get("arn", topic.inputs["kmsMasterKeyId"])
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    assert key.inputs["enableKeyRotation"] is True
    key_statements = {s["Sid"]: s for s in document(key.inputs["policy"])["Statement"]}
    # EventBridge's KMS calls carry no aws:SourceArn: its grant is tied to the topic through the encryption context.
    assert key_statements["EventBridgePublishes"]["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": prod_plan.outputs["releaseNewsTopicArn"]}
    }
    for policy in (
        document(key.inputs["policy"]),
        document(one(prod_plan, "aws:sns/topicPolicy:TopicPolicy").inputs["policy"]),
        document(one(prod_plan, "aws:sqs/queuePolicy:QueuePolicy").inputs["policy"]),
    ):
        for statement in policy["Statement"]:
            principal = statement["Principal"]
            assert principal != "*" and "*" not in principal.get("AWS", []) and principal.get("AWS") != "*"
            if statement["Effect"] == "Allow" and statement["Sid"] != "KeyAdministration":
                assert statement.get("Condition"), statement


def test_topic_policy_lets_only_pipeline_roles_the_auditor_and_the_stack_rule_publish(prod_plan):
    statements = {
        s["Sid"]: s for s in document(one(prod_plan, "aws:sns/topicPolicy:TopicPolicy").inputs["policy"])["Statement"]
    }
    publishers = statements["PlatformRolesPublish"]["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert "arn:aws:iam::123456789012:role/cicd-approval-auditor-prod" in publishers
    assert "arn:aws:iam::123456789012:role/cicd/prod/cicd-pipeline-*" in publishers  # the pipeline roles by path
    assert statements["PipelineEventsPublish"]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": ["arn:aws:events:eu-west-1:123456789012:rule/cicd-pipeline-news-prod"]}
    }


def test_one_fleet_rule_sends_pipeline_state_changes_to_the_topic(prod_plan):
    rule = one(prod_plan, "aws:cloudwatch/eventRule:EventRule", name="cicd-pipeline-news-prod")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["detail-type"] == ["CodePipeline Pipeline Execution State Change"]
    assert {"STARTED", "SUCCEEDED", "FAILED"} <= set(pattern["detail"]["state"])
    assert pattern["detail"]["pipeline"] == [{"suffix": f"-{env}"} for env in ("dev", "qa", "staging", "prod")]
    assert not [r for r in prod_plan.resources if r.type.startswith("aws:codestarnotifications")]


def test_webhook_mode_subscribes_the_notifier_with_a_dead_letter_queue(prod_plan):
    notifier = one(prod_plan, FUNCTION, name="cicd-slack-notifier-prod")
    assert notifier.inputs["environment"]["variables"] == {
        "LEDGER_TABLE": "cicd-delivery-ledger-prod",
        "WEBHOOK_SECRET_ID": "cicd-platform/slack-webhook",
    }
    assert notifier.inputs["deadLetterConfig"]["targetArn"].endswith(":cicd-release-news-dead-letters-prod")
    subscription = one(prod_plan, "aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["protocol"] == "lambda"
    assert json.loads(subscription.inputs["redrivePolicy"])["deadLetterTargetArn"].endswith("dead-letters-prod")
    permission = one(prod_plan, "aws:lambda/permission:Permission", principal="sns.amazonaws.com")
    assert permission.inputs["sourceArn"] == prod_plan.outputs["releaseNewsTopicArn"]
    policy = document(one(prod_plan, ROLE_POLICY, role="cicd-slack-notifier-prod").inputs["policy"])
    secret = next(s for s in policy["Statement"] if s["Sid"] == "WebhookUrl")
    assert (
        secret["Resource"] == "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cicd-platform/slack-webhook-??????"
    )


def test_function_packages_hold_the_handler_and_the_vendored_shared_modules(prod_plan):
    packages = {r.inputs["name"]: r.inputs["code"]["assets"] for r in ours(prod_plan) if r.type == FUNCTION}
    assert set(packages["cicd-slack-notifier-prod"]) == {"handler.py", "slack_client.py", "delivery_ledger.py"}
    # The auditor formats its alerts as Chatbot custom notifications with the shared client.
    assert set(packages["cicd-approval-auditor-prod"]) == {"handler.py", "slack_client.py", "delivery_ledger.py"}
    for assets in packages.values():
        for asset in assets.values():
            assert (PROJECT_DIR / asset["path"]).is_file(), asset["path"]


def test_function_logs_are_kept_and_encrypted(prod_plan):
    for name in ("/aws/lambda/cicd-slack-notifier-prod", "/aws/lambda/cicd-approval-auditor-prod"):
        logs = one(prod_plan, "aws:cloudwatch/logGroup:LogGroup", name=name)
        assert logs.inputs["retentionInDays"] == 90
        assert logs.inputs["kmsKeyId"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")


def test_the_auditor_watches_cloudtrail_approvals_of_prod_pipelines_only(prod_plan):
    rule = one(prod_plan, "aws:cloudwatch/eventRule:EventRule", name="cicd-approval-audit-prod")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["source"] == ["aws.codepipeline"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventName"] == ["PutApprovalResult"]
    assert pattern["detail"]["requestParameters"] == {"pipelineName": [{"suffix": "-prod"}]}
    permission = one(prod_plan, "aws:lambda/permission:Permission", principal="events.amazonaws.com")
    assert permission.inputs["sourceArn"] == "arn:aws:events:eu-west-1:123456789012:rule/cicd-approval-audit-prod"
    auditor = one(prod_plan, FUNCTION, name="cicd-approval-auditor-prod")
    variables = auditor.inputs["environment"]["variables"]
    assert json.loads(variables["RELEASE_MANAGERS"]) == [
        "arn:aws:iam::123456789012:role/release-manager",
        "arn:aws:iam::123456789012:role/release-manager-oncall",
    ]
    assert json.loads(variables["PROTECTED_SUFFIXES"]) == ["-prod"]


def test_the_auditor_may_stop_only_prod_pipelines(prod_plan):
    policy = document(one(prod_plan, ROLE_POLICY, role="cicd-approval-auditor-prod").inputs["policy"])
    stop = next(s for s in policy["Statement"] if s["Sid"] == "InspectAndStopProdRuns")
    assert "codepipeline:StopPipelineExecution" in stop["Action"]
    assert stop["Resource"] and all(arn.endswith("-prod") for arn in stop["Resource"])
    assert not any(grants_put_approval(s) for s in policy["Statement"])


def chatbot_plan(tmp_path: Path):
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((PROJECT_DIR / name).read_text())
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    stack["config"]["cicd-platform:settings"].update({"slackWorkspaceId": "T01ABCDEF", "slackChannelId": "C0123ABCD"})
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    # Release news is the stack's, not a service's: one service is enough to plan it.
    raw = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    (tmp_path / "services.yaml").write_text(yaml.safe_dump(with_dependencies(raw, ["auth"])))
    return shared_plan(tmp_path, "dev", str(tmp_path / "services.yaml"))


def test_with_a_workspace_id_chatbot_delivers_and_nobody_can_act_through_it(tmp_path):
    plan = chatbot_plan(tmp_path)
    channel = one(plan, "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration")
    assert (channel.inputs["slackTeamId"], channel.inputs["slackChannelId"]) == ("T01ABCDEF", "C0123ABCD")
    assert channel.inputs["snsTopicArns"] == [plan.outputs["releaseNewsTopicArn"]]
    assert channel.inputs["guardrailPolicyArns"] == ["arn:aws:iam::aws:policy/AWSDenyAll"]
    chatbot_role = one(plan, ROLE, name="cicd-chatbot-dev")
    assert not [p for p in inputs_of(plan, ROLE_POLICY) if p["role"] == chatbot_role.inputs["name"]]
    assert {r.inputs["name"] for r in ours(plan) if r.type == FUNCTION} == {"cicd-approval-auditor-dev"}
    approval_news = one(plan, "aws:cloudwatch/eventRule:EventRule", name="cicd-approval-news-dev")
    assert json.loads(approval_news.inputs["eventPattern"])["detail"]["type"] == {"category": ["Approval"]}
    assert not plan.mandatory_violations
