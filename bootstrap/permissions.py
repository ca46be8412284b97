"""The bootstrap role of an environment account: who may assume it and what it may do there.

The program runs with tooling-account credentials and reaches each environment
account only through this role (``components/aws/environment_account.py``). It is
the one definition both the CloudFormation template (``template.py``, rolled out
as a StackSet) and the Pulumi program (``__main__.py``) are built from, so the two
cannot drift. Documents carry the CloudFormation pseudo parameters
``${AWS::Partition}``, ``${AWS::AccountId}`` and ``${AWS::Region}``: the template
hands them to ``Fn::Sub``, the Pulumi program and the tests fill them in with
``render``.

What it may do, and why each statement is there:

- roles and inline policies named ``cicd-*`` (deploy roles, the CodeDeploy service
  role, the alarm reader, the event forwarder): the calls the Terraform AWS provider
  behind ``aws.iam.Role``, ``RolePolicy`` and ``RolePolicyAttachment`` makes on
  create, read, update and delete, including ``ListRolePolicies``/``GetRolePolicy``/
  ``ListAttachedRolePolicies`` (read) and ``ListInstanceProfilesForRole`` (delete).
  Every call that creates a role or can widen one (create, put a boundary, update,
  change its trust, put an inline policy, attach a policy) needs the platform's
  permissions boundary on the role (``boundary.py``; the bootstrap creates it), so
  the roles this role can make are never more than the platform's own roles; it
  may not remove a boundary from any role, nor change the boundary policy;
- attach only the AWS-managed CodeDeploy policies; pass only the CodeDeploy
  service role, only to CodeDeploy, and only the event-forwarder role, only to
  EventBridge (the rules' targets);
- inline policies on the Server instance roles the catalog names. IAM cannot scope
  ``PutRolePolicy`` by the inline policy's name and the instance roles are the
  workload's, not ``cicd-*``; so the account owner opts a role in with the tag
  ``cicd-platform-managed-policy=true`` (the preflight reports untagged ones). A
  parameter listing the role names would have to change with every catalog edit
  and be re-rolled over the whole OU; a path would force workloads to recreate
  their roles. The tag keeps the choice with the account and the bootstrap role
  cannot tag a role outside ``cicd-*`` itself;
- CodeDeploy applications and deployment groups in the account and region (their
  names are the service's, so not prefixed);
- the lookups the program makes during preview (ALB, listener, target groups) and
  the reads the preflight makes; ``sts:GetCallerIdentity`` for the provider's account check;
- for the governance work: CloudWatch metric and composite alarms, SNS topics and
  EventBridge rules (on the default bus) named ``cicd-*`` with their targets (alarms are
  read with ``DescribeAlarms`` on ``*``, the only scope CloudWatch returns composite
  alarms to; every write stays on ``alarm:cicd-*``), and a KMS key for the alarm topic.
  No subscriptions: nothing subscribes to the alarm topics there, and subscription calls
  are authorised on ``*``. ``kms:CreateKey`` has no resource to scope, so it requires
  the request tag ``managed-by=cicd-platform`` and every later call on a key
  requires that tag on the key. The key's own policy lets the account (and so
  IAM) administer it, which is what AWS's lockout check on ``CreateKey`` asks.
  Creating a key with its tags also needs ``kms:TagResource``, granted "in an IAM
  policy that isn't restricted to particular KMS keys" (KMS Developer Guide,
  "Controlling access to tags"): the key does not exist yet, so the request names
  no key, carries the tags as ``aws:RequestTag`` and has no ``aws:ResourceTag``
  (IAM User Guide: that key is present only for a resource that already has
  tags). That grant alone would let the role put the platform's tag on any
  existing key and so adopt it (``PutKeyPolicy``, ``ScheduleKeyDeletion``); an
  explicit Deny therefore refuses ``kms:TagResource`` on every key ARN of the
  account, in every region, that does not already carry ``managed-by=cicd-platform``.
  Tag-on-create names no key ARN, so it is untouched; should KMS ever authorise it
  against the new key's ARN, ``CreateKey`` fails closed (AccessDenied), it never opens.
"""

from __future__ import annotations

import json
from typing import Any

from components.iam.rollback import ALARM_READ_ACTIONS, COMPOSITE_ALARM_READ_SCOPE

Document = dict[str, Any]

DEFAULT_ROLE_NAME = "cicd-platform-bootstrap"
DEFAULT_DEPLOYER_ROLE_NAME = "cicd-platform-deployer"
DEFAULT_BOUNDARY_POLICY_NAME = "cicd-platform-boundary"
PLATFORM_PREFIX = "cicd-"
MANAGED_BY_TAG = ("managed-by", "cicd-platform")
INSTANCE_ROLE_OPT_IN_TAG = ("cicd-platform-managed-policy", "true")

PARTITION = "${AWS::Partition}"
ACCOUNT = "${AWS::AccountId}"
REGION = "${AWS::Region}"

# The AWS-managed policies the CodeDeploy service role gets, per compute platform;
# a test keeps this equal to components/aws/environment_account.py.
CODEDEPLOY_MANAGED_POLICY_ARNS = (
    f"arn:{PARTITION}:iam::aws:policy/AWSCodeDeployRoleForECS",
    f"arn:{PARTITION}:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda",
    f"arn:{PARTITION}:iam::aws:policy/service-role/AWSCodeDeployRole",
)

# What can create a platform role or widen one: allowed only on roles that carry the platform's boundary.
# IAM puts iam:PermissionsBoundary in the request context of each of these (Service Authorization Reference,
# IAM): for CreateRole and PutRolePermissionsBoundary it is the boundary requested, for the others the boundary
# the role carries.
BOUNDED_ROLE_ACTIONS = [
    "iam:CreateRole",
    "iam:PutRolePermissionsBoundary",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy",
]
# Reads, tags and removals: none of them can give a role more than it has.
PLATFORM_ROLE_ACTIONS = [
    "iam:DeleteRole",
    "iam:GetRole",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
]
# The boundary policy is the bootstrap's; the platform never changes it, and nobody may take a boundary off.
BOUNDARY_POLICY_CHANGES = [
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
]
INSTANCE_ROLE_POLICY_ACTIONS = ["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"]
CODEDEPLOY_APPLICATION_ACTIONS = [
    "codedeploy:CreateApplication",
    "codedeploy:GetApplication",
    "codedeploy:UpdateApplication",
    "codedeploy:DeleteApplication",
    "codedeploy:TagResource",
    "codedeploy:UntagResource",
    "codedeploy:ListTagsForResource",
]
CODEDEPLOY_GROUP_ACTIONS = [
    "codedeploy:CreateDeploymentGroup",
    "codedeploy:GetDeploymentGroup",
    "codedeploy:UpdateDeploymentGroup",
    "codedeploy:DeleteDeploymentGroup",
    "codedeploy:TagResource",
    "codedeploy:UntagResource",
    "codedeploy:ListTagsForResource",
]
# Describe calls of Elastic Load Balancing and Auto Scaling, kms:ListAliases and
# sts:GetCallerIdentity support no resource-level permissions: AWS accepts only "*".
UNSCOPABLE_READ_ACTIONS = [
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTags",
    "autoscaling:DescribeAutoScalingGroups",
    "kms:ListAliases",
    "sts:GetCallerIdentity",
]
PREFLIGHT_SCOPED_READ_ACTIONS = [
    "ecs:DescribeClusters",
    "ecs:DescribeServices",
    "lambda:GetFunction",
    "lambda:GetAlias",
]
ALARM_ACTIONS = [
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:PutCompositeAlarm",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
    "cloudwatch:ListTagsForResource",
]
EVENT_RULE_ACTIONS = [
    "events:PutRule",
    "events:DescribeRule",
    "events:DeleteRule",
    "events:TagResource",
    "events:UntagResource",
    "events:ListTagsForResource",
    "events:PutTargets",
    "events:ListTargetsByRule",
    "events:RemoveTargets",
]
TOPIC_ACTIONS = [
    "sns:CreateTopic",
    "sns:DeleteTopic",
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:TagResource",
    "sns:UntagResource",
    "sns:ListTagsForResource",
]
KEY_CREATE_ACTIONS = ["kms:CreateKey", "kms:TagResource"]
KEY_MANAGE_ACTIONS = [
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation",
    "kms:ListResourceTags",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
    "kms:ScheduleKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
]
ALIAS_ACTIONS = ["kms:CreateAlias", "kms:DeleteAlias"]
# Tagging an existing key: allowed only on keys that already carry the platform's tag (see the module docstring).
KEY_TAG_ACTIONS = ["kms:TagResource"]


def _arn(service: str, resource: str, *, regional: bool = True) -> str:
    return f"arn:{PARTITION}:{service}:{REGION if regional else ''}:{ACCOUNT}:{resource}"


def boundary_policy_arn(boundary_policy_name: str = DEFAULT_BOUNDARY_POLICY_NAME) -> str:
    """The permissions boundary the bootstrap creates in the account (``boundary.py``), at the root path."""
    return f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{boundary_policy_name}"


def bootstrap_policy(boundary_policy_name: str = DEFAULT_BOUNDARY_POLICY_NAME) -> Document:
    """Everything the program (and the preflight) does in an environment account, and nothing else.

    Roles named ``cicd-*`` are created and widened only with the platform's permissions boundary on them
    (allowed with the ``iam:PermissionsBoundary`` condition, and denied without it, so a role that somehow
    lacks it, or an opt-in tag on one, opens nothing); no boundary is ever removed, and the boundary policy
    itself is never changed from here.
    """
    managed_by_key, managed_by = MANAGED_BY_TAG
    opt_in_key, opt_in = INSTANCE_ROLE_OPT_IN_TAG
    platform_roles = _arn("iam", f"role/{PLATFORM_PREFIX}*", regional=False)
    codedeploy_service_roles = _arn("iam", f"role/{PLATFORM_PREFIX}codedeploy-*", regional=False)
    event_forwarder_roles = _arn("iam", f"role/{PLATFORM_PREFIX}event-forwarder-*", regional=False)
    boundary = boundary_policy_arn(boundary_policy_name)
    with_boundary = {"iam:PermissionsBoundary": boundary}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ManagePlatformRoles",
                "Effect": "Allow",
                "Action": PLATFORM_ROLE_ACTIONS,
                "Resource": platform_roles,
            },
            {
                "Sid": "CreateAndWidenPlatformRolesOnlyWithTheBoundary",
                "Effect": "Allow",
                "Action": BOUNDED_ROLE_ACTIONS,
                "Resource": platform_roles,
                "Condition": {"StringEquals": with_boundary},
            },
            {
                "Sid": "AttachCodeDeployManagedPolicies",
                "Effect": "Allow",
                "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                "Resource": codedeploy_service_roles,
                "Condition": {
                    "ArnEquals": {"iam:PolicyARN": list(CODEDEPLOY_MANAGED_POLICY_ARNS)},
                    "StringEquals": with_boundary,
                },
            },
            {
                "Sid": "DenyPlatformRolesWithoutTheBoundary",
                "Effect": "Deny",
                "Action": [*BOUNDED_ROLE_ACTIONS, "iam:AttachRolePolicy"],
                "Resource": platform_roles,
                "Condition": {"StringNotEquals": with_boundary},
            },
            {
                "Sid": "DenyRemovingAnyBoundary",
                "Effect": "Deny",
                "Action": "iam:DeleteRolePermissionsBoundary",
                "Resource": _arn("iam", "role/*", regional=False),
            },
            {
                "Sid": "DenyChangingTheBoundary",
                "Effect": "Deny",
                "Action": BOUNDARY_POLICY_CHANGES,
                "Resource": boundary,
            },
            {
                "Sid": "PassCodeDeployServiceRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": codedeploy_service_roles,
                "Condition": {"StringEquals": {"iam:PassedToService": "codedeploy.amazonaws.com"}},
            },
            {
                "Sid": "PassEventForwarderRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": event_forwarder_roles,
                "Condition": {"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}},
            },
            {
                "Sid": "ManageOptedInInstanceRolePolicies",
                "Effect": "Allow",
                "Action": INSTANCE_ROLE_POLICY_ACTIONS,
                "Resource": _arn("iam", "role/*", regional=False),
                "Condition": {"StringEquals": {f"aws:ResourceTag/{opt_in_key}": opt_in}},
            },
            {
                "Sid": "ManageCodeDeployApplications",
                "Effect": "Allow",
                "Action": CODEDEPLOY_APPLICATION_ACTIONS,
                "Resource": _arn("codedeploy", "application:*"),
            },
            {
                "Sid": "ManageCodeDeployGroups",
                "Effect": "Allow",
                "Action": CODEDEPLOY_GROUP_ACTIONS,
                "Resource": _arn("codedeploy", "deploymentgroup:*"),
            },
            {
                "Sid": "ReadWhatAwsCannotScope",
                "Effect": "Allow",
                "Action": UNSCOPABLE_READ_ACTIONS,
                "Resource": "*",
            },
            {
                "Sid": "PreflightReads",
                "Effect": "Allow",
                "Action": PREFLIGHT_SCOPED_READ_ACTIONS,
                "Resource": [
                    _arn("ecs", "cluster/*"),
                    _arn("ecs", "service/*"),
                    _arn("lambda", "function:*"),
                ],
            },
            {
                "Sid": "ReadWorkloadRoles",
                "Effect": "Allow",
                "Action": "iam:GetRole",
                "Resource": _arn("iam", "role/*", regional=False),
            },
            {
                "Sid": "ManagePlatformAlarms",
                "Effect": "Allow",
                "Action": ALARM_ACTIONS,
                "Resource": _arn("cloudwatch", f"alarm:{PLATFORM_PREFIX}*"),
            },
            {
                # The provider reads each composite alarm back after PutCompositeAlarm; CloudWatch returns
                # composite alarms only to a DescribeAlarms granted on "*" (API Reference, DescribeAlarms).
                "Sid": "ReadAlarmsIncludingComposite",
                "Effect": "Allow",
                "Action": ALARM_READ_ACTIONS,
                "Resource": COMPOSITE_ALARM_READ_SCOPE,
            },
            {
                "Sid": "ManagePlatformEventRules",
                "Effect": "Allow",
                "Action": EVENT_RULE_ACTIONS,
                "Resource": _arn("events", f"rule/{PLATFORM_PREFIX}*"),
            },
            {
                "Sid": "ManagePlatformTopics",
                "Effect": "Allow",
                "Action": TOPIC_ACTIONS,
                "Resource": _arn("sns", f"{PLATFORM_PREFIX}*"),
            },
            {
                "Sid": "CreateTaggedPlatformKeys",
                "Effect": "Allow",
                "Action": KEY_CREATE_ACTIONS,
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:RequestTag/{managed_by_key}": managed_by}},
            },
            {
                "Sid": "ManagePlatformKeys",
                "Effect": "Allow",
                "Action": KEY_MANAGE_ACTIONS,
                "Resource": _arn("kms", "key/*"),
                "Condition": {"StringEquals": {f"aws:ResourceTag/{managed_by_key}": managed_by}},
            },
            {
                # Tag-on-create (above) names no key; an existing key is named by its ARN and tagged only if it
                # already is the platform's. StringNotEquals also matches a key with no such tag at all.
                "Sid": "DenyTaggingKeysThePlatformDidNotCreate",
                "Effect": "Deny",
                "Action": KEY_TAG_ACTIONS,
                "Resource": f"arn:{PARTITION}:kms:*:{ACCOUNT}:key/*",
                "Condition": {"StringNotEquals": {f"aws:ResourceTag/{managed_by_key}": managed_by}},
            },
            {
                "Sid": "ManagePlatformKeyAliases",
                "Effect": "Allow",
                "Action": ALIAS_ACTIONS,
                "Resource": _arn("kms", f"alias/{PLATFORM_PREFIX}*"),
            },
        ],
    }


def trust_policy(tooling_account_id: str, organization_id: str, deployer_role_name: str) -> Document:
    """Trust the deployer role(s) of the tooling account, and only from inside the organization.

    The principal is the tooling account; ``aws:PrincipalArn`` narrows it to the
    deployer (a pattern, so an SSO permission set such as
    ``aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_PlatformAdmin_*`` works too:
    the Principal element itself cannot hold wildcards). ``aws:PrincipalOrgID`` is
    the second factor, because the Pulumi AWS provider passes no ExternalId unless told.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumedByToolingDeployer",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{PARTITION}:iam::{tooling_account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ArnLike": {
                        "aws:PrincipalArn": f"arn:{PARTITION}:iam::{tooling_account_id}:role/{deployer_role_name}"
                    },
                    "StringEquals": {"aws:PrincipalOrgID": organization_id},
                },
            }
        ],
    }


def actions_of(document: Document) -> list[str]:
    """Every action a document names, in order of appearance, without repeats."""
    seen: dict[str, None] = {}
    for statement in document["Statement"]:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            seen.setdefault(action, None)
    return list(seen)


def render(document: Document, *, partition: str, account_id: str, region: str) -> Document:
    """The document with the pseudo parameters filled in, as the Pulumi program and tests need it."""
    text = json.dumps(document)
    for placeholder, value in ((PARTITION, partition), (ACCOUNT, account_id), (REGION, region)):
        text = text.replace(placeholder, value)
    return json.loads(text)
