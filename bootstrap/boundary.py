"""The permissions boundary of every role the platform creates in an environment account.

The bootstrap role may create and change ``cicd-*`` roles only with this boundary
on them (``permissions.py``), so whoever can assume the deployer cannot mint a role
in an environment account, the PCI one included, that does more than the
platform's own roles do there: no IAM or STS, no secrets, no data stores, no keys
but the tooling account's. A role's effective permissions are its policies *and*
the boundary (IAM User Guide, "Permissions boundaries for IAM entities").

The boundary is derived, not listed by hand. It is the union of

- the identity policies the program gives the roles it creates there (the deploy
  roles of each compute platform, the alarm reader — alarms and failed
  deployments —, the event forwarder), built by
  the same functions in ``components/iam``, with every service, environment and
  stack name wildcarded and the tooling account left as a parameter; and
- the AWS-managed policies the CodeDeploy service role carries
  (``CODEDEPLOY_SERVICE_ROLE_POLICIES``), as the AWS Managed Policy Reference
  publishes them: the program attaches them by ARN, and the boundary must not
  take from CodeDeploy what AWS gives it. A test compares them with the copy of
  AWS's managed policies that moto ships.

Statements that share resources and conditions are merged, and a statement whose
actions an unconditioned ``Resource: "*"`` statement already allows is dropped, so
the document stays under IAM's 6,144-character limit for managed policies. What the
CodeDeploy policies grant on ``*`` (read any S3 object, invoke any Lambda function,
publish to any topic, change load balancers and Auto Scaling groups) stays within a
minted role's reach: narrowing it would take from CodeDeploy what AWS gives it.
"""

from __future__ import annotations

import json
from typing import Any

from components import iam
from components.model import naming

from .permissions import ACCOUNT, PARTITION, REGION, Document

ARTIFACT_BUCKETS = "cicd-artifacts-*"
"""Every artifact bucket name starts so (``naming.artifact_bucket_name``, cut to 63 characters after it)."""

# AWS Managed Policy Reference: AWSCodeDeployRole, AWSCodeDeployRoleForECS, AWSCodeDeployRoleForLambda (their
# default versions). Keyed by the ARN the program attaches (permissions.CODEDEPLOY_MANAGED_POLICY_ARNS).
CODEDEPLOY_SERVICE_ROLE_POLICIES: dict[str, list[Document]] = {
    f"arn:{PARTITION}:iam::aws:policy/AWSCodeDeployRoleForECS": [
        {
            "Effect": "Allow",
            "Action": [
                "ecs:DescribeServices",
                "ecs:CreateTaskSet",
                "ecs:UpdateServicePrimaryTaskSet",
                "ecs:DeleteTaskSet",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:ModifyRule",
                "lambda:InvokeFunction",
                "cloudwatch:DescribeAlarms",
                "sns:Publish",
                "s3:GetObject",
                "s3:GetObjectVersion",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": "*",
            "Condition": {"StringLike": {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]}},
        },
    ],
    f"arn:{PARTITION}:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda": [
        {
            "Effect": "Allow",
            "Action": [
                "cloudwatch:DescribeAlarms",
                "lambda:UpdateAlias",
                "lambda:GetAlias",
                "lambda:GetProvisionedConcurrencyConfig",
                "sns:Publish",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"arn:{PARTITION}:s3:::*/CodeDeploy/*",
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": "*",
            "Condition": {"StringEquals": {"s3:ExistingObjectTag/UseWithCodeDeploy": "true"}},
        },
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": f"arn:{PARTITION}:lambda:*:*:function:CodeDeployHook_*",
        },
    ],
    f"arn:{PARTITION}:iam::aws:policy/service-role/AWSCodeDeployRole": [
        {
            "Effect": "Allow",
            "Action": [
                "autoscaling:CompleteLifecycleAction",
                "autoscaling:DeleteLifecycleHook",
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLifecycleHooks",
                "autoscaling:PutLifecycleHook",
                "autoscaling:RecordLifecycleActionHeartbeat",
                "autoscaling:CreateAutoScalingGroup",
                "autoscaling:CreateOrUpdateTags",
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:EnableMetricsCollection",
                "autoscaling:DescribePolicies",
                "autoscaling:DescribeScheduledActions",
                "autoscaling:DescribeNotificationConfigurations",
                "autoscaling:SuspendProcesses",
                "autoscaling:ResumeProcesses",
                "autoscaling:AttachLoadBalancers",
                "autoscaling:AttachLoadBalancerTargetGroups",
                "autoscaling:PutScalingPolicy",
                "autoscaling:PutScheduledUpdateGroupAction",
                "autoscaling:PutNotificationConfiguration",
                "autoscaling:PutWarmPool",
                "autoscaling:DescribeScalingActivities",
                "autoscaling:DeleteAutoScalingGroup",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceStatus",
                "ec2:TerminateInstances",
                "tag:GetResources",
                "sns:Publish",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:PutMetricAlarm",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeInstanceHealth",
                "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
                "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:RegisterTargets",
                "elasticloadbalancing:DeregisterTargets",
            ],
            "Resource": "*",
        }
    ],
}


def _arn(service: str, resource: str, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:{service}:{REGION}:{account}:{resource}"


def platform_role_policies(tooling_account_id: str) -> list[Document]:
    """The identity policies of the roles the program creates in an environment account, names wildcarded.

    The same builders the program calls (``components/iam``), with the arguments that vary by service,
    environment or stack replaced by the pattern that covers every value of them.
    """
    codedeploy = [_arn("codedeploy", f"{kind}:*") for kind in ("application", "deploymentgroup", "deploymentconfig")]
    bucket = f"arn:{PARTITION}:s3:::{ARTIFACT_BUCKETS}"
    tooling_keys = _arn("kms", "key/*", tooling_account_id)
    passed_roles = [f"arn:{PARTITION}:iam::{ACCOUNT}:role/*"]
    functions = _arn("lambda", "function:*")
    bus = _arn("events", f"event-bus/{naming.deploy_events_bus_name('*')}", tooling_account_id)
    return [
        iam.ecs_deploy_policy(codedeploy, passed_roles, bucket, tooling_keys, "*", _arn("ecs", "task-definition/*")),
        iam.lambda_deploy_policy(functions, codedeploy, bucket, tooling_keys, "*"),
        iam.server_deploy_policy(codedeploy, bucket, tooling_keys, "*"),
        iam.alarm_reader_policy(PARTITION, REGION, ACCOUNT, "*"),
        iam.event_forwarder_policy(bus),
    ]


def _statements(documents: list[Document]) -> list[Document]:
    return [statement for document in documents for statement in document["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def boundary_policy(tooling_account_id: str) -> Document:
    """The boundary: every Allow the platform's environment-account roles hold, merged by resource and condition."""
    sources = _statements(platform_role_policies(tooling_account_id))
    sources += [statement for policy in CODEDEPLOY_SERVICE_ROLE_POLICIES.values() for statement in policy]
    merged: dict[str, set[str]] = {}
    for statement in sources:
        if statement["Effect"] != "Allow":
            continue
        key = json.dumps(
            {"Resource": sorted(_as_list(statement["Resource"])), "Condition": statement.get("Condition")},
            sort_keys=True,
        )
        merged.setdefault(key, set()).update(_as_list(statement["Action"]))
    everywhere = merged.get(json.dumps({"Condition": None, "Resource": ["*"]}, sort_keys=True), set())
    kept = {key: actions for key, actions in merged.items() if not actions <= everywhere or actions is everywhere}
    statements = []
    for index, (key, actions) in enumerate(sorted(kept.items()), start=1):
        where = json.loads(key)
        resources = where["Resource"]
        statement: Document = {
            "Sid": f"PlatformRoles{index}",
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": resources[0] if len(resources) == 1 else resources,
        }
        if where["Condition"]:
            statement["Condition"] = where["Condition"]
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}
