"""Only the release managers may approve prod: their grant, the guardrail SCP and the approval auditor.

- Each ``releaseManagers`` role (roles the platform does not own, in the tooling
  account) gets an inline policy allowing ``codepipeline:PutApprovalResult`` on
  the prod approval actions (``<service>-<prod env>/Approve/ReleaseApproval``, by
  pattern: the actions the SCP reserves to them) and ``GetPipelineState`` on the
  stack's prod pipelines (by pattern and tags). The deployer therefore needs
  ``iam:PutRolePolicy``/``iam:DeleteRolePolicy`` on those roles. No role the
  platform creates is granted ``PutApprovalResult``.
- The guardrail SCP (stack output ``approvalGuardrailScp``; the offline plan
  writes ``out/scp-<stack>.json``) denies it to every other principal; an
  organization admin attaches it, since IAM grants alone cannot stop an
  administrator.
- The approval auditor function, on the CloudTrail ``PutApprovalResult`` events
  of prod pipelines (EventBridge default bus; needs a trail logging the tooling
  account's management events), stops and reports any approval by someone else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming, release_approvals
from ..model.platform_inputs import PlatformInputs
from ..model.tags import standard_tags
from .lambda_function import DELIVERY_LEDGER, SLACK_CLIENT, PlatformFunction, PlatformFunctionArgs, invoke_from_rule
from .notifications import APPROVAL_AUDIT_RULE, AUDITOR

APPROVAL_POLICY_NAME = "cicd-platform-approve-prod"


def approval_audit_pattern(suffixes: list[str], account: str, region: str) -> dict[str, object]:
    """CloudTrail's record of an approval given in the tooling account and region, where the prod pipelines run."""
    return {
        "source": ["aws.codepipeline"],
        "account": [account],
        "region": [region],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["codepipeline.amazonaws.com"],
            "eventName": ["PutApprovalResult"],
            "requestParameters": {"pipelineName": [{"suffix": suffix} for suffix in suffixes]},
        },
    }


def auditor_role_arn(inputs: PlatformInputs) -> str:
    settings = inputs.settings
    return naming.role_arn(settings.region, settings.tooling_account_id, naming.function_name(AUDITOR, inputs.stack))


@dataclass(frozen=True)
class ApprovalGovernanceArgs:
    inputs: PlatformInputs
    topic_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    ledger_table_name: pulumi.Input[str]
    ledger_table_arn: pulumi.Input[str]
    dead_letter_queue_arn: pulumi.Input[str]


class ApprovalGovernance(pulumi.ComponentResource):
    """Release-manager grants, the guardrail SCP (as data) and the approval auditor."""

    guardrail_scp: str | None
    """The SCP, minified; None when the stack has no production environment."""

    def __init__(self, name: str, args: ApprovalGovernanceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:governance:ApprovalGovernance", name, None, opts)
        inputs, settings = args.inputs, args.inputs.settings
        region, account, stack = settings.region, settings.tooling_account_id, inputs.stack
        tags = standard_tags(stack)
        protected = release_approvals.production_approval_pipelines(inputs)
        production = release_approvals.production_environments(inputs)
        self.guardrail_scp = (
            iam.scp_text(iam.approval_guardrail_scp(region, account, production, settings.release_managers))
            if production
            else None
        )
        if protected:
            grant = iam.to_json(iam.release_manager_approval_policy(region, account, stack, production))
            for manager in settings.release_managers:
                role_name = naming.role_name_of(manager)
                aws.iam.RolePolicy(
                    f"{name}-{role_name}",
                    role=role_name,
                    name=f"{APPROVAL_POLICY_NAME}-{stack}",
                    policy=grant,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            self._auditor(name, args, production, tags)
        self.register_outputs({"guardrailScp": self.guardrail_scp, "protectedPipelines": protected})

    def _auditor(self, name: str, args: ApprovalGovernanceArgs, production: list[str], tags: dict[str, str]) -> None:
        inputs, settings = args.inputs, args.inputs.settings
        region, account, stack = settings.region, settings.tooling_account_id, inputs.stack
        suffixes = release_approvals.protected_suffixes(inputs)
        protected_pipelines = iam.production_pipelines_statement(
            "InspectAndStopProdRuns", iam.AUDITOR_PIPELINE_ACTIONS, region, account, stack, production
        )
        auditor = PlatformFunction(
            f"{name}-auditor",
            PlatformFunctionArgs(
                stack=stack,
                region=region,
                account_id=account,
                purpose=AUDITOR,
                folder="approval_auditor",
                description=f"Stops prod runs approved by anyone but the release managers (stack {stack})",
                key_arn=args.key_arn,
                dead_letter_queue_arn=args.dead_letter_queue_arn,
                policy_inputs={
                    "topic_arn": args.topic_arn,
                    "key_arn": args.key_arn,
                    "ledger_arn": args.ledger_table_arn,
                    "queue_arn": args.dead_letter_queue_arn,
                },
                policy_for=lambda resolved: iam.approval_auditor_policy(
                    resolved["log_group_arn"],
                    protected_pipelines,
                    resolved["topic_arn"],
                    resolved["key_arn"],
                    resolved["ledger_arn"],
                    resolved["queue_arn"],
                    region=region,
                ),
                environment={
                    "RELEASE_MANAGERS": json.dumps(sorted(settings.release_managers)),
                    "PROTECTED_SUFFIXES": json.dumps(suffixes),
                    "TOPIC_ARN": args.topic_arn,
                    "LEDGER_TABLE": args.ledger_table_name,
                },
                vendored=[SLACK_CLIENT, DELIVERY_LEDGER],
                tags=tags,
                tracing=True,
                # Approvals are rare; a small cap keeps a flood of forged events from fanning out.
                reserved_concurrency=2,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-audit-rule",
            name=naming.event_rule_name(APPROVAL_AUDIT_RULE, stack),
            description="CloudTrail PutApprovalResult on prod pipelines → approval auditor",
            event_pattern=json.dumps(approval_audit_pattern(suffixes, settings.tooling_account_id, settings.region)),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        invoke_from_rule(
            f"{name}-audit",
            rule,
            auditor,
            retry_policy={"maximum_event_age_in_seconds": 24 * 3600, "maximum_retry_attempts": 50},
            dead_letter_arn=args.dead_letter_queue_arn,
        )
