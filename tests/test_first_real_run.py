"""What the first `pulumi up` and the first pipeline run need, proven on the plans of both stacks.

Each test here stands for a defect that would only have shown up against real
AWS: artifacts one service could overwrite for another, instance roles that
cannot read their revisions, IAM actions that do not exist, configurations
that silently weaken a prod deploy.
"""

from __future__ import annotations

import fnmatch
import json

import pytest
from policy_sentry.querying.all import get_all_actions

from components.model import naming
from components.pipeline.stages import image_tag
from tests.conftest import document

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
DEPLOYMENT_GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
WRITE_ACTIONS = {"s3:putobject", "s3:*", "*", "s3:put*"}
KNOWN_ACTIONS = get_all_actions(lowercase=True)


@pytest.fixture(params=["dev", "prod"])
def plan(request):
    return request.getfixturevalue(f"{request.param}_plan")


def statements_of(value):
    return [statement for statement in document(value)["Statement"]]


def as_list(value):
    return value if isinstance(value, list) else [value]


def tooling_role_policies(plan):
    """(service, role name, statements) of every inline policy on a per-service tooling role."""
    names = {service.name for service in plan.inputs.catalog.services}
    found = []
    for resource in plan.resources:
        if resource.type != ROLE_POLICY or resource.provider is not None:
            continue
        role = resource.inputs["role"]
        for kind in ("pipeline", "build", "image-build", "release", "scan"):
            service = role.removeprefix(f"cicd-{kind}-")
            if role.startswith(f"cicd-{kind}-") and service in names:
                found.append((service, role, statements_of(resource.inputs["policy"])))
    return found


def writable_patterns(statements):
    return [
        pattern
        for statement in statements
        if statement["Effect"] == "Allow"
        and any(action.lower() in WRITE_ACTIONS for action in as_list(statement["Action"]))
        for pattern in as_list(statement["Resource"])
    ]


def test_no_tooling_role_can_write_under_another_services_artifact_prefix(plan):
    bucket = f"arn:aws:s3:::{plan.outputs['artifactBucket']}"
    prefixes = {service.name: plan.inputs.artifact_prefixes(service) for service in plan.inputs.catalog.services}
    policies = tooling_role_policies(plan)
    assert {kind for _, role, _ in policies for kind in ("pipeline", "build") if f"-{kind}-" in role} == {
        "pipeline",
        "build",
    }
    for service, role, statements in policies:
        patterns = writable_patterns(statements)
        if role.startswith("cicd-scan-"):
            # Scans write reports under their own non-artifact prefix, and no artifact at all.
            assert all("/security_reports/" in pattern for pattern in patterns), role
        else:
            assert patterns, f"{role} writes nothing: the check would prove nothing"
        own_writes = 0
        for other, other_prefixes in prefixes.items():
            for prefix in other_prefixes.values():
                for key in (f"{bucket}/{prefix}/build_output/Ab12Cd3", f"{bucket}/{prefix}/lambda-releases/1/f.zip"):
                    writable = any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)
                    assert not writable or other == service, f"{role} can write {key}"
                    own_writes += writable
        assert own_writes or role.startswith("cicd-scan-"), f"{role} cannot write under its own prefixes"


def test_the_isolation_check_catches_a_role_that_writes_the_whole_bucket(dev_plan):
    bucket = f"arn:aws:s3:::{dev_plan.outputs['artifactBucket']}"
    widened = [{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": f"{bucket}/*"}]
    key = f"{bucket}/{naming.artifact_prefix('payments', 'prod')}/build_output/x"
    assert any(fnmatch.fnmatchcase(key, pattern) for pattern in writable_patterns(widened))


def test_deploy_roles_read_only_their_own_pipelines_artifacts(prod_plan):
    for resource in prod_plan.resources:
        if resource.type != ROLE_POLICY or not resource.inputs["role"].startswith("cicd-deploy-"):
            continue
        service, environment = resource.inputs["role"].removeprefix("cicd-deploy-").rsplit("-", 1)
        prefix = naming.artifact_prefix(service, environment)
        for statement in statements_of(resource.inputs["policy"]):
            if any(action.startswith("s3:") for action in as_list(statement["Action"])):
                assert all(f":::{prefix}/" not in r and f"/{prefix}/" in r for r in as_list(statement["Resource"]))
                assert not writable_patterns([statement])


def test_every_server_deploy_has_its_instance_role_policy_in_its_account(plan):
    providers = {r.urn: r for r in plan.resources if r.type == "pulumi:providers:aws"}
    policies = {
        (r.inputs["role"], r.inputs["name"]): r
        for r in plan.resources
        if r.type == ROLE_POLICY and r.inputs.get("name", "").startswith("cicd-artifacts-")
    }
    servers = [s for s in plan.inputs.catalog.services if s.aws.platform == "Server"]
    assert servers
    for service in servers:
        for environment in plan.inputs.environments_for(service):
            policy = policies[(service.aws.instance_role, f"cicd-artifacts-{service.name}-{environment.name}")]
            assert json.loads(providers[policy.provider].inputs["allowedAccountIds"]) == [environment.account_id]
            read, decrypt = statements_of(policy.inputs["policy"])
            assert read["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
            prefix = naming.artifact_prefix(service.name, environment.name)
            assert read["Resource"] == [f"arn:aws:s3:::{plan.outputs['artifactBucket']}/{prefix}/*"]
            assert decrypt["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
            assert decrypt["Resource"] == plan.outputs["artifactKeyArn"]


def test_deployment_groups_wait_for_the_codedeploy_role_policies(plan):
    attachments = {
        r.urn
        for r in plan.resources
        if r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" and "codedeploy" in r.name
    }
    groups = [r for r in plan.resources if r.type == DEPLOYMENT_GROUP]
    assert groups and attachments
    for group in groups:
        account_component = group.provider.rsplit("::", 1)[1].removesuffix("-provider")
        same_account = {
            urn for urn in attachments if urn.rsplit("::", 1)[1].rsplit("-", 1)[0] == f"{account_component}-codedeploy"
        }
        assert same_account, group.urn
        assert same_account <= set(group.dependencies), group.urn


def test_lambda_release_stages_code_in_s3_instead_of_zip_upload(prod_plan):
    project = next(
        r
        for r in prod_plan.resources
        if r.type == "aws:codebuild/project:Project" and r.name.endswith("-release-project")
    )
    buildspec = project.inputs["source"]["buildspec"]
    assert "fileb://" not in buildspec
    assert '--s3-bucket "$ARTIFACT_BUCKET" --s3-key "$release_key"' in buildspec
    variables = {v["name"]: v["value"] for v in project.inputs["environment"]["environmentVariables"]}
    assert variables["ARTIFACT_BUCKET"] == prod_plan.outputs["artifactBucket"]
    service = project.inputs["name"].removesuffix("-lambda-release")
    release = {role: st for svc, role, st in tooling_role_policies(prod_plan) if role == f"cicd-release-{service}"}
    (statements,) = release.values()
    staged = next(s for s in statements if s["Sid"] == "StageReleases")
    assert staged["Action"] == ["s3:PutObject", "s3:PutObjectTagging"]  # the package is tagged with its kind
    assert all("/lambda-releases/*" in r for r in staged["Resource"])
    deploy = next(
        r
        for r in prod_plan.resources
        if r.type == ROLE_POLICY and r.inputs["role"] == naming.deploy_role_name(service, "prod")
    )
    read = next(s for s in statements_of(deploy.inputs["policy"]) if s["Sid"] == "ReadStagedRelease")
    assert read["Resource"] == [
        f"arn:aws:s3:::{prod_plan.outputs['artifactBucket']}/{naming.lambda_release_prefix(service, 'prod')}/*"
    ]


def test_pipeline_roles_may_use_the_connection_under_both_service_names(dev_plan):
    for _, role, statements in tooling_role_policies(dev_plan):
        if role.startswith("cicd-pipeline-"):
            source = next(s for s in statements if s["Sid"] == "GitHubSource")
            assert source["Action"] == ["codeconnections:UseConnection", "codestar-connections:UseConnection"]
            assert {r.split(":")[2] for r in source["Resource"]} == {"codeconnections", "codestar-connections"}


def ecs_deploy_statements(plan):
    ecs = {s.name for s in plan.inputs.catalog.services if s.aws.platform == "ECS"}
    for resource in plan.resources:
        role = resource.inputs.get("role", "")
        is_deploy_role = resource.type == ROLE_POLICY and role.startswith("cicd-deploy-")
        if is_deploy_role and role.removeprefix("cicd-deploy-").rsplit("-", 1)[0] in ecs:
            yield {s["Sid"]: s for s in statements_of(resource.inputs["policy"])}


def test_ecs_deploy_roles_pass_task_roles_only_to_ecs_tasks(prod_plan):
    found = list(ecs_deploy_statements(prod_plan))
    assert found
    for statements in found:
        passing = statements["PassTaskRoles"]
        assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_ecs_deploy_roles_tag_task_definitions_only_while_registering_them(prod_plan):
    for statements in ecs_deploy_statements(prod_plan):
        tagging = statements["TagNewTaskDefinitions"]
        assert tagging["Action"] == "ecs:TagResource"
        assert tagging["Resource"].endswith(":task-definition/*")
        assert tagging["Condition"] == {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}


def test_every_iam_action_in_the_plan_exists(plan):
    """A misspelt action is accepted by IAM and silently grants nothing; check against AWS's action list."""
    checked = 0
    for resource in plan.resources:
        for key in ("policy", "assumeRolePolicy"):
            value = resource.inputs.get(key)
            if not isinstance(value, str) or '"Statement"' not in value:
                continue
            for statement in statements_of(value):
                for action in as_list(statement.get("Action", [])):
                    checked += 1
                    if "*" in action:
                        prefix, pattern = action.lower().split(":", 1)
                        assert any(
                            known.startswith(f"{prefix}:") and fnmatch.fnmatchcase(known, f"{prefix}:{pattern}")
                            for known in KNOWN_ACTIONS
                        ), f"{resource.urn}: {action} matches no IAM action"
                    else:
                        assert action.lower() in KNOWN_ACTIONS, f"{resource.urn}: unknown IAM action {action}"
    assert checked > 100


def test_the_action_check_knows_a_misspelling_when_it_sees_one():
    assert "codepipeline:putapprovalresult" in KNOWN_ACTIONS
    assert "codepipeline:putapprovalresults" not in KNOWN_ACTIONS


def test_each_pipeline_runs_in_its_environments_execution_mode(plan):
    for resource in plan.resources:
        if resource.type == PIPELINE:
            environment = plan.inputs.settings.environment(resource.inputs["tags"]["environment"])
            assert resource.inputs["executionMode"] == environment.execution_mode, resource.name
    modes = {r.inputs["executionMode"] for r in plan.resources if r.type == PIPELINE}
    assert modes == {"QUEUED", "SUPERSEDED"}


@pytest.mark.parametrize(
    ("platform", "forbidden"),
    [("Lambda", "AllAtOnce"), ("Server", "AllAtOnce"), ("ECS", "AllAtOnce")],
)
def test_production_deployments_never_shift_all_at_once(plan, platform, forbidden):
    names = {s.name for s in plan.inputs.catalog.services if s.aws.platform == platform}
    groups = [
        r
        for r in plan.resources
        if r.type == DEPLOYMENT_GROUP and r.inputs["deploymentGroupName"].rsplit("-", 1) in [[n, "prod"] for n in names]
    ]
    assert groups
    for group in groups:
        assert forbidden not in group.inputs["deploymentConfigName"], group.name


def test_image_repositories_are_immutable_and_scan_on_push(plan):
    repositories = [r for r in plan.resources if r.type == "aws:ecr/repository:Repository"]
    assert repositories
    for repository in repositories:
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}


def test_container_images_are_tagged_per_commit_environment_and_run(dev_plan):
    inputs = dev_plan.inputs
    booking = inputs.catalog.service("booking")
    tags = {image_tag(booking, env) for env in inputs.environments_for(booking)}
    assert len(tags) == len(inputs.environments_for(booking))
    assert all("#{SourceVariables.CommitId}" in t and "#{codepipeline.PipelineExecutionId}" in t for t in tags)
    assert image_tag(inputs.catalog.service("invoicing"), inputs.settings.environments[0]) is None


def test_taggable_resources_name_their_owning_service_and_environment(plan):
    from offline_plan.report import service_of

    owners = service_of(plan)
    owner_team = {service.name: service.owner for service in plan.inputs.catalog.services}
    environments = {
        r.urn: json.loads(r.inputs["allowedAccountIds"]) for r in plan.resources if "allowedAccountIds" in r.inputs
    }
    checked = 0
    for resource in plan.resources:
        tags = resource.inputs.get("tags")
        if not resource.custom or not isinstance(tags, dict):
            continue
        service = owners.get(resource.urn)
        assert tags.get("service") == (service or "platform"), resource.urn
        assert tags.get("owner") == owner_team.get(service, "team-platform"), resource.urn
        if resource.type == PIPELINE or (resource.provider in environments and service):
            assert tags.get("environment") in {env.name for env in plan.inputs.settings.environments}, resource.urn
        assert tags.get("managed-by") == "cicd-platform"
        checked += 1
    assert checked > 100


def test_platform_functions_and_release_managers_never_write_artifacts(plan):
    """Roles that belong to no service (functions, release managers) have no business in the artifact bucket."""
    bucket = f"arn:aws:s3:::{plan.outputs['artifactBucket']}"
    service_roles = {role for _, role, _ in tooling_role_policies(plan)}
    checked = 0
    for resource in plan.resources:
        if resource.type != ROLE_POLICY or resource.provider is not None:
            continue
        if resource.inputs["role"] in service_roles or '"Statement"' not in str(resource.inputs.get("policy")):
            continue
        checked += 1
        patterns = writable_patterns(statements_of(resource.inputs["policy"]))
        assert not [p for p in patterns if p.startswith(bucket) or p == "*"], resource.inputs["role"]
    assert checked >= 5
