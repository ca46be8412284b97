"""The review of a platform change, on pairs of plans built by hand: exactly the lines a reviewer reads."""

from __future__ import annotations

import json

from offline_plan.diff import diff_plans, render_review
from offline_plan.plan_index import PlanIndex
from tests.offline_plan.plans import (
    PLATFORM,
    artifact_policy,
    finding,
    named,
    plan,
    resource,
    service,
    service_resources,
)

HEADER = "Review of stack 'dev': base → working tree"


def review(base: dict, head: dict) -> list[str]:
    return render_review(diff_plans(base, head))


def test_a_service_added_brings_its_pipelines_first_then_its_resources_by_environment():
    base = plan(*service_resources("booking"))
    head = plan(*service_resources("booking"), *service_resources("search"))
    assert review(base, head) == [
        HEADER,
        "2 pipeline(s) change shape · 4 to create · 0 to update · 0 to replace · 0 to delete · findings: 0 new, 0 gone",
        "",
        "Pipelines that change shape:",
        "  search / dev (search-dev):",
        "    + new pipeline: Source → Build → Deploy [gate DeployGate (LambdaInvoke); rollback on failure] → Verify",
        "  search / prod (search-prod):",
        "    + new pipeline: Source → Build → Approve [approval ReleaseApproval] → "
        "Deploy [gate DeployGate (LambdaInvoke); rollback on failure]",
        "",
        "Resources:",
        "  search:",
        "    + aws:iam:Role search-pipeline-role",
        "    + aws:iam:RolePolicy search-pipeline-policy",
        "  search / dev:",
        "    + aws:codepipeline:Pipeline search-dev-pipeline",
        "  search / prod:",
        "    + aws:codepipeline:Pipeline search-prod-pipeline",
    ]


def test_a_stage_removed_is_called_out_as_a_change_of_shape_and_shown_in_the_pipeline_update():
    base = plan(*service_resources("booking"))
    head = plan(*service_resources("booking"))
    pipeline = named(head, "booking-dev-pipeline")["inputs"]
    pipeline["stages"] = [stage for stage in pipeline["stages"] if stage["name"] != "Verify"]
    assert review(base, head) == [
        HEADER,
        "1 pipeline(s) change shape · 0 to create · 1 to update · 0 to replace · 0 to delete · findings: 0 new, 0 gone",
        "",
        "Pipelines that change shape:",
        "  booking / dev (booking-dev):",
        "    - stage Verify: DAST (CodeBuild)",
        "",
        "Resources:",
        "  booking / dev:",
        "    ~ aws:codepipeline:Pipeline booking-dev-pipeline",
        '        - stages["Verify"]: {"actions": [{"category": "Test", "name": "DAST", "owner": "AWS", '
        '"provider": "CodeBuild", "version": "1"}], "name": "Verify"}',
    ]


def test_a_lost_approval_gate_and_rollback_each_get_a_line():
    base = plan(*service_resources("booking"))
    head = plan(*service_resources("booking"))
    stages = named(head, "booking-prod-pipeline")["inputs"]["stages"]
    approve = next(stage for stage in stages if stage["name"] == "Approve")
    approve["actions"] = []
    deploy = next(stage for stage in stages if stage["name"] == "Deploy")
    del deploy["beforeEntry"], deploy["onFailure"]
    lines = review(base, head)
    start = lines.index("Pipelines that change shape:")
    assert lines[start : start + 5] == [
        "Pipelines that change shape:",
        "  booking / prod (booking-prod):",
        "    - Approve: approval ReleaseApproval",
        "    - Deploy: gate DeployGate (LambdaInvoke)",
        "    - Deploy: rollback on failure",
    ]


def test_a_widened_policy_statement_is_diffed_inside_the_json_document_and_its_new_finding_listed():
    base = plan(*service_resources("booking"))
    head = plan(
        *service_resources("booking"),
        violations=(
            finding(
                "iam-no-wildcard-actions",
                "mandatory",
                named(plan(*service_resources("booking")), "booking-pipeline-policy")["urn"],
                "statement ReadArtifacts allows s3:* on *",
                "Name the actions and resources",
            ),
        ),
    )
    document = artifact_policy()
    document["Statement"][0]["Action"] = ["s3:*"]
    document["Statement"][0]["Resource"] = "*"
    named(head, "booking-pipeline-policy")["inputs"]["policy"] = json.dumps(document)
    assert review(base, head) == [
        HEADER,
        "0 pipeline(s) change shape · 0 to create · 1 to update · 0 to replace · 0 to delete · findings: 1 new, 0 gone",
        "",
        "Resources:",
        "  booking:",
        "    ~ aws:iam:RolePolicy booking-pipeline-policy",
        '        - policy.Statement["ReadArtifacts"].Action[]: "s3:GetObject"',
        '        + policy.Statement["ReadArtifacts"].Action[]: "s3:*"',
        '        ~ policy.Statement["ReadArtifacts"].Resource: "arn:aws:s3:::cicd-artifacts/*" → "*"',
        "",
        "Policy findings:",
        "  + [mandatory] iam-no-wildcard-actions: statement ReadArtifacts allows s3:* on * (booking-pipeline-policy)",
    ]


def test_a_statement_without_sid_added_or_removed_reads_as_that_statement():
    base = plan(*service_resources("booking"))
    head = plan(*service_resources("booking"))
    document = artifact_policy()
    document["Statement"].append({"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"})
    named(head, "booking-pipeline-policy")["inputs"]["policy"] = json.dumps(document)
    lines = review(base, head)
    assert lines[-1] == ('        + policy.Statement[]: {"Action": "sns:Publish", "Effect": "Allow", "Resource": "*"}')


def test_a_secret_that_changed_shows_that_it_changed_never_a_value():
    webhook = {"name": "/cicd/dev/webhook", "type": "SecureString", "value": "hunter2-in-plain-text"}
    notifier = {"name": "cicd-notifier", "timeout": 30, "environment": {"variables": {"TOKEN": "[secret]"}}}
    base = plan(
        resource("aws:ssm/parameter:Parameter", "platform-webhook", PLATFORM, webhook),
        resource("aws:lambda/function:Function", "platform-notifier", PLATFORM, notifier),
    )
    head = plan(
        resource("aws:ssm/parameter:Parameter", "platform-webhook", PLATFORM, {**webhook, "value": "[secret]"}),
        resource("aws:lambda/function:Function", "platform-notifier", PLATFORM, {**notifier, "timeout": 60}),
    )
    lines = review(base, head)
    assert lines[2:] == [
        "",
        "Resources:",
        "  platform:",
        "    ~ aws:lambda:Function platform-notifier",
        "        ~ timeout: 30 → 60",
        "    ~ aws:ssm:Parameter platform-webhook",
        "        ~ value: now secret (neither value shown)",
    ]
    assert not any("hunter2" in line for line in lines)


def test_a_physical_name_change_replaces_where_the_provider_forces_it_and_renames_in_place_where_not():
    def app(name: str) -> dict:
        holder = named(plan(*service_resources("booking")), "booking-prod")
        return resource(
            "aws:codedeploy/application:Application",
            "booking-prod-app",
            holder["urn"],
            {"name": name, "computePlatform": "ECS"},
        )

    base = plan(*service_resources("booking"), app("booking-prod"))
    head = plan(*service_resources("booking"), app("booking-production"))
    named(head, "booking-pipeline-role")["inputs"]["name"] = "cicd-pipeline-booking-v2"
    named(head, "booking-prod-pipeline")["inputs"]["name"] = "booking-production"
    assert review(base, head)[1:] == [
        "0 pipeline(s) change shape · 0 to create · 1 to update · 2 to replace · 0 to delete · findings: 0 new, 0 gone",
        "",
        "Resources:",
        "  booking:",
        "    +- aws:iam:Role booking-pipeline-role (replaced: name changed)",
        '        ~ name: "cicd-pipeline-booking" → "cicd-pipeline-booking-v2"',
        "  booking / prod:",
        "    ~ aws:codedeploy:Application booking-prod-app",
        '        ~ name: "booking-prod" → "booking-production"',
        "    +- aws:codepipeline:Pipeline booking-prod-pipeline (replaced: name changed)",
        '        ~ name: "booking-prod" → "booking-production"',
    ]


def test_a_resource_moved_with_an_alias_is_the_same_resource_but_one_moved_without_is_replaced():
    old_topic = resource("aws:sns/topic:Topic", "release-news", PLATFORM, {"name": "cicd-release-news"})
    news = resource("cicd:governance:ReleaseNews", "release-news", PLATFORM)
    aliased = resource(
        "aws:sns/topic:Topic", "release-news", news["urn"], {"name": "cicd-release-news"}, aliases=(old_topic["urn"],)
    )
    assert review(plan(old_topic), plan(news, aliased))[1].startswith("0 pipeline(s) change shape · 0 to create")
    moved = resource("aws:sns/topic:Topic", "release-news", news["urn"], {"name": "cicd-release-news"})
    assert review(plan(old_topic), plan(news, moved))[2:] == [
        "",
        "Resources:",
        "  platform:",
        "    + aws:sns:Topic release-news",
        "    - aws:sns:Topic release-news",
    ]


def test_a_resource_handed_to_another_provider_is_replaced():
    provider = "urn:pulumi:dev::cicd-platform::pulumi:providers:aws::env-prod-provider"
    before = resource("aws:sns/topic:Topic", "alarms", PLATFORM, {"name": "cicd-alarms"})
    after = resource("aws:sns/topic:Topic", "alarms", PLATFORM, {"name": "cicd-alarms"}, provider=provider)
    assert review(plan(before), plan(after))[-3:] == [
        "  platform / prod:",
        "    +- aws:sns:Topic alarms (replaced: provider changed)",
        f'        ~ (provider): "default" → "{provider}"',
    ]


def test_a_change_of_provider_region_warns_that_resources_do_not_move():
    before = resource("pulumi:providers:aws", "env-prod-provider", None, {"region": "eu-west-1"})
    after = resource("pulumi:providers:aws", "env-prod-provider", None, {"region": "eu-central-1"})
    lines = review(plan(before), plan(after))
    assert lines[-3:] == [
        "    ~ pulumi:providers:aws env-prod-provider",
        '        ~ region: "eu-west-1" → "eu-central-1"',
        "        ! region: resources already created stay in the old region: pulumi-aws does not move them "
        "(pulumi/pulumi-aws#5656); destroy them first",
    ]


def test_a_finding_gone_and_components_never_counted():
    urn = named(plan(*service_resources("booking")), "booking-pipeline-policy")["urn"]
    base = plan(service("booking"), violations=(finding("kms-rotation", "advisory", urn, "key does not rotate"),))
    head = plan(service("booking"), resource("cicd:pipeline:EnvironmentPipeline", "booking-dev", PLATFORM))
    assert review(base, head) == [
        HEADER,
        "0 pipeline(s) change shape · 0 to create · 0 to update · 0 to replace · 0 to delete · findings: 0 new, 1 gone",
        "",
        "Policy findings:",
        "  - [advisory] kms-rotation: key does not rotate (booking-pipeline-policy)",
    ]


def test_identical_plans_say_so():
    document = plan(*service_resources("booking"))
    assert review(document, document)[2:] == [
        "No changes: both plans declare the same resources with the same inputs and findings."
    ]


def test_tooling_resources_belong_to_no_environment_even_in_a_stack_named_like_one():
    """The stack ``dev`` is not the environment ``dev``: the Stack's own name must not place resources."""
    stack = {
        "urn": "urn:pulumi:dev::cicd-platform::pulumi:pulumi:Stack::cicd-platform-dev",
        "type": "pulumi:pulumi:Stack",
    }
    stack.update(name="cicd-platform-dev", parent=None, provider=None, inputs={})
    document = plan(stack)
    named(document, "platform")["parent"] = stack["urn"]
    store = resource("cicd:artifacts:ArtifactStore", "artifacts", PLATFORM)
    key = resource("aws:kms/key:Key", "artifacts-key", store["urn"], {"tags": {"environment": "tooling"}})
    freeze = resource("aws:ssm/parameter:Parameter", "coordination-freeze-prod", PLATFORM, {"name": "/f/prod"})
    document["resources"] += [store, key, freeze]
    index = PlanIndex(document)
    assert index.group_of(key["urn"]) == ("platform", None)
    assert index.group_of(store["urn"]) == ("platform", None)
    assert index.group_of(freeze["urn"]) == ("platform", "prod")
