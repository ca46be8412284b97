"""The Pulumi program under mocks: what each service gets, per environment, in which account."""

from __future__ import annotations

import json

import pytest
import yaml

from components.model import naming
from components.model.branch_pattern import matches
from tests.conftest import PROJECT_DIR, document, inputs_of, service_entry, with_dependencies
from tests.shared_plans import shared_plan

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IMAGE_BUILD_BUILDSPEC = (PROJECT_DIR / "components" / "aws" / "buildspecs" / "image_build.yml").read_text(
    encoding="utf-8"
)
# AWS defines no resource type for these: "*" is the only accepted resource. cloudwatch:DescribeAlarms has
# one, but returns composite alarms only when granted on "*" (Amazon CloudWatch API Reference, DescribeAlarms).
UNSCOPABLE_ACTIONS = {
    # No resource type either (Service Authorization Reference, CloudWatch); the DORA function's grant is narrowed
    # by the cloudwatch:namespace condition key instead (checked below).
    "cloudwatch:PutMetricData",
    "cloudwatch:DescribeAlarms",
    "codedeploy:GetDeploymentTarget",
    "codedeploy:ListDeploymentTargets",
    "ecr:GetAuthorizationToken",
    "ecs:RegisterTaskDefinition",
    "codepipeline:PutJobFailureResult",
    "codepipeline:PutJobSuccessResult",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
    # Secrets Manager documents no resource type for these two (the secret watch and the rotation function).
    "secretsmanager:ListSecrets",
    "secretsmanager:GetRandomPassword",
}


def pipelines(plan):
    return {p["name"]: p for p in inputs_of(plan, PIPELINE)}


def resource(plan, resource_type, **wanted):
    found = [
        r for r in plan.resources if r.type == resource_type and all(r.inputs.get(k) == v for k, v in wanted.items())
    ]
    assert len(found) == 1, (resource_type, wanted, len(found))
    return found[0]


def environment_provider(plan, account_id):
    """The explicit provider into one account; provider config is JSON on the wire."""
    found = [
        r
        for r in plan.resources
        if r.type == "pulumi:providers:aws" and json.loads(r.inputs["allowedAccountIds"]) == [account_id]
    ]
    assert len(found) == 1
    return found[0]


def action(pipeline, stage_name):
    """The stage's one action; a Deploy stage's bake (its last action) watches the alarm and deploys nothing."""
    stage = next(stage for stage in pipeline["stages"] if stage["name"] == stage_name)
    actions = [a for a in stage["actions"] if a["name"] != "BakeHealthAlarm"]
    assert len(actions) == 1
    return actions[0]


def test_every_service_gets_one_v2_pipeline_per_environment(dev_plan):
    by_name = pipelines(dev_plan)
    inputs = dev_plan.inputs
    expected = {
        naming.pipeline_name(service.name, env.name)
        for service in inputs.catalog.services
        for env in inputs.environments_for(service)
    }
    assert set(by_name) == expected
    assert len(by_name) == sum(len(inputs.environments_for(s)) for s in inputs.catalog.services)
    assert {p["pipelineType"] for p in by_name.values()} == {"V2"}


def test_a_service_gets_only_the_environments_it_asks_for(catalog_raw, tmp_path):
    service_entry(catalog_raw, "reporting")["environments"] = ["dev", "staging", "prod"]
    catalog = tmp_path / "services.yaml"
    catalog.write_text(yaml.safe_dump(with_dependencies(catalog_raw, ["reporting"])))  # booking among them
    names = set(pipelines(shared_plan(PROJECT_DIR, "dev", str(catalog))))
    assert {"reporting-dev", "reporting-staging", "reporting-prod"} <= names
    assert "reporting-qa" not in names
    assert "booking-qa" in names


@pytest.mark.parametrize(
    ("environment", "pattern", "reaches", "never"),
    [
        ("dev", "feature/**", "feature/new-checkout", "main"),
        ("qa", "develop", "develop", "feature/x"),
        ("staging", "release/**", "release/2026.12", "develop"),
        ("prod", "main", "main", "release/2026.12"),
    ],
)
def test_push_trigger_filters_on_the_environment_branch(dev_plan, environment, pattern, reaches, never):
    for service in dev_plan.inputs.catalog.services:
        name = naming.pipeline_name(service.name, environment)
        if name not in pipelines(dev_plan):
            continue
        (trigger,) = pipelines(dev_plan)[name]["triggers"]
        assert trigger["providerType"] == "CodeStarSourceConnection"
        git = trigger["gitConfiguration"]
        assert git["sourceActionName"] == "Source"
        (push,) = git["pushes"]
        assert push["branches"]["includes"] == [pattern]
        assert matches(pattern, reaches) and not matches(pattern, never)


def test_stages_run_source_build_scan_approve_deploy_verify(dev_plan):
    for name, pipeline in pipelines(dev_plan).items():
        environment = name.rsplit("-", 1)[1]
        stages = [stage["name"] for stage in pipeline["stages"]]
        if environment == "prod":
            assert stages == ["Source", "Build", "Scan", "Approve", "Deploy"], name
        elif environment == "staging":
            assert stages == ["Source", "Build", "Scan", "Approve", "Deploy", "Verify"], name
        else:
            assert stages == ["Source", "Build", "Scan", "Deploy", "Verify"], name
        if "Approve" in stages:
            assert action(pipeline, "Approve")["provider"] == "Manual"


def test_source_uses_the_stack_connection_and_the_service_repository(dev_plan):
    connection = resource(dev_plan, "aws:codestarconnections/connection:Connection")
    arn = connection.inputs.get("arn") or dev_plan.outputs["githubConnectionArn"]
    booking_prod = pipelines(dev_plan)["booking-prod"]
    source = action(booking_prod, "Source")
    assert source["provider"] == "CodeStarSourceConnection"
    assert source["configuration"]["ConnectionArn"] == arn
    assert source["configuration"]["FullRepositoryId"] == "bookwise/booking"
    assert source["configuration"]["BranchName"] == "main"
    assert action(pipelines(dev_plan)["booking-dev"], "Source")["configuration"]["BranchName"] == "main"
    assert action(pipelines(dev_plan)["booking-qa"], "Source")["configuration"]["BranchName"] == "develop"


def test_build_stage_runs_the_service_build_project(dev_plan):
    build = action(pipelines(dev_plan)["search-qa"], "Build")
    assert build["provider"] == "CodeBuild"
    assert build["configuration"]["ProjectName"] == "search-build"
    assert json.loads(build["configuration"]["EnvironmentVariables"]) == [
        {"name": "TARGET_ENVIRONMENT", "value": "qa", "type": "PLAINTEXT"}
    ]


def test_ecs_deploys_blue_green_through_the_environment_deploy_role(prod_plan):
    deploy = action(pipelines(prod_plan)["booking-prod"], "Deploy")
    assert deploy["provider"] == "CodeDeployToECS"
    assert deploy["roleArn"] == "arn:aws:iam::444444444444:role/cicd-deploy-booking-prod"
    assert deploy["region"] == "eu-west-1"
    assert deploy["configuration"]["ApplicationName"] == "booking-prod"
    assert deploy["configuration"]["DeploymentGroupName"] == "booking-prod"


def test_server_deploys_in_place_with_codedeploy(prod_plan):
    deploy = action(pipelines(prod_plan)["ledger-staging"], "Deploy")
    assert deploy["provider"] == "CodeDeploy"
    assert deploy["roleArn"] == "arn:aws:iam::433333333333:role/cicd-deploy-ledger-staging"


def test_lambda_releases_through_the_release_project_not_the_pipeline_role(prod_plan):
    deploy = action(pipelines(prod_plan)["invoicing-prod"], "Deploy")
    assert deploy["provider"] == "CodeBuild"
    assert "roleArn" not in deploy
    assert deploy["configuration"]["ProjectName"] == "invoicing-lambda-release"
    variables = {v["name"]: v["value"] for v in json.loads(deploy["configuration"]["EnvironmentVariables"])}
    assert variables["DEPLOY_ROLE_ARN"] == "arn:aws:iam::444444444444:role/cicd-deploy-invoicing-prod"
    assert variables["FUNCTION_NAME"] == "invoicing"
    assert variables["CODEDEPLOY_GROUP"] == "invoicing-prod"


def test_pci_service_deploys_prod_to_its_own_account_only_in_the_prod_stack(prod_plan, dev_plan):
    deploy = action(pipelines(prod_plan)["payments-prod"], "Deploy")
    assert deploy["roleArn"] == "arn:aws:iam::455555555555:role/cicd-deploy-payments-prod"
    sandbox = action(pipelines(dev_plan)["payments-prod"], "Deploy")
    assert sandbox["roleArn"] == "arn:aws:iam::310000000014:role/cicd-deploy-payments-prod"
    providers = {r.name for r in prod_plan.resources if r.type == "pulumi:providers:aws"}
    assert "env-prod-455555555555-provider" in providers


def test_deploy_role_lives_in_the_environment_account_and_trusts_only_the_pipeline_role(prod_plan):
    role = resource(prod_plan, ROLE, name="cicd-deploy-booking-prod")
    provider = environment_provider(prod_plan, "444444444444")
    assert role.provider == provider.urn
    assert json.loads(provider.inputs["assumeRoles"]) == [
        {"roleArn": "arn:aws:iam::444444444444:role/cicd-platform-bootstrap", "sessionName": "cicd-platform-prod"}
    ]
    (statement,) = document(role.inputs["assumeRolePolicy"])["Statement"]
    # The tooling roles live under the stack's IAM path (README: Scaling to a large fleet); the ARN carries it.
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/cicd/prod/cicd-pipeline-booking"}
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-bkw7prodorg01"}}


def test_lambda_deploy_role_trusts_only_the_release_role(prod_plan):
    role = resource(prod_plan, ROLE, name="cicd-deploy-invoicing-qa")
    (statement,) = document(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/cicd/prod/cicd-release-invoicing"}


def test_codedeploy_objects_are_created_in_the_environment_account(prod_plan):
    group = resource(prod_plan, "aws:codedeploy/deploymentGroup:DeploymentGroup", deploymentGroupName="booking-prod")
    assert group.provider == environment_provider(prod_plan, "444444444444").urn
    assert group.inputs["deploymentStyle"] == {
        "deploymentOption": "WITH_TRAFFIC_CONTROL",
        "deploymentType": "BLUE_GREEN",
    }
    assert group.inputs["deploymentConfigName"] == "CodeDeployDefault.ECSCanary10Percent5Minutes"
    assert group.inputs["autoRollbackConfiguration"] == {
        "enabled": True,
        "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
    }
    assert group.inputs["ecsService"] == {"clusterName": "bookwise-core", "serviceName": "booking"}
    route = group.inputs["loadBalancerInfo"]["targetGroupPairInfo"]
    assert route["targetGroups"] == [{"name": "booking-blue"}, {"name": "booking-green"}]
    assert route["prodTrafficRoute"]["listenerArns"][0].startswith(
        "arn:aws:elasticloadbalancing:eu-west-1:444444444444:listener/app/bookwise-core-alb/"
    )


def test_pipeline_role_may_assume_only_its_own_deploy_roles(prod_plan):
    role = resource(prod_plan, ROLE, name="cicd-pipeline-booking")
    (policy,) = [r for r in prod_plan.resources if r.type == ROLE_POLICY and r.parent == role.urn]
    statements = {s["Sid"]: s for s in document(policy.inputs["policy"])["Statement"]}
    assert statements["AssumeDeployRoles"]["Resource"] == sorted(
        f"arn:aws:iam::{account}:role/cicd-deploy-booking-{env}"
        for env, account in [
            ("dev", "411111111111"),
            ("qa", "422222222222"),
            ("staging", "433333333333"),
            ("prod", "444444444444"),
        ]
    )
    assert statements["RunBuilds"]["Resource"] == [
        "arn:aws:codebuild:eu-west-1:123456789012:project/booking-build",
        "arn:aws:codebuild:eu-west-1:123456789012:project/booking-image-build",
        "arn:aws:codebuild:eu-west-1:123456789012:project/booking-scan",
    ]
    trust = document(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "codepipeline.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_build_role_cannot_assume_deploy_roles(prod_plan):
    for policy in inputs_of(prod_plan, ROLE_POLICY):
        for statement in document(policy["policy"])["Statement"]:
            if statement["Action"] == "sts:AssumeRole":
                assert statement["Sid"] in (
                    "AssumeDeployRoles",
                    "ReadAlarmsThroughReaders",
                    "ReadDependencyAlarmsThroughReaders",
                    "ReadDeploymentsThroughReaders",  # the failure digest reads a failed deployment's cause
                )
    build_role = resource(prod_plan, ROLE, name="cicd-build-booking")
    (policy,) = [r for r in prod_plan.resources if r.type == ROLE_POLICY and r.parent == build_role.urn]
    assert "sts:AssumeRole" not in json.dumps(document(policy.inputs["policy"]))


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_iam_statements_name_actions_and_resources(stack, request):
    plan = request.getfixturevalue(stack)
    for policy in inputs_of(plan, ROLE_POLICY):
        for statement in document(policy["policy"])["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a in ("*", "*:*") or a.endswith(":*") for a in actions), statement
            if statement.get("Resource") == "*":
                assert set(actions) <= UNSCOPABLE_ACTIONS, statement
            if "cloudwatch:PutMetricData" in actions:
                assert "cloudwatch:namespace" in statement["Condition"]["StringEquals"], statement


def test_roles_are_separate_per_purpose(prod_plan):
    role_names = {r.inputs["name"] for r in prod_plan.resources if r.type == ROLE}
    for service in ("booking", "invoicing"):
        assert f"cicd-pipeline-{service}" in role_names
        assert f"cicd-build-{service}" in role_names
    assert "cicd-release-invoicing" in role_names
    assert "cicd-release-booking" not in role_names


def test_only_the_platforms_image_builds_are_privileged(dev_plan):
    """The team's build runs its own buildspec unprivileged; only the platform's pinned image build gets Docker."""
    ecs = {s.name for s in dev_plan.inputs.catalog.services if s.aws.platform == "ECS"}
    privileged = set()
    for project in inputs_of(dev_plan, "aws:codebuild/project:Project"):
        if project["environment"]["privilegedMode"]:
            privileged.add(project["name"])
            assert project["source"] == {"type": "CODEPIPELINE", "buildspec": IMAGE_BUILD_BUILDSPEC}
            assert project.get("cache") is None and "dockerServer" not in project["environment"]
        assert project["encryptionKey"] == dev_plan.outputs["artifactKeyArn"]
        assert project["logsConfig"]["cloudwatchLogs"]["status"] == "ENABLED"
    assert privileged == {f"{name}-image-build" for name in ecs}
    team_build = resource(dev_plan, "aws:codebuild/project:Project", name="booking-build").inputs
    assert team_build["environment"]["environmentVariables"] == [
        {"name": "SERVICE_NAME", "value": "booking", "type": "PLAINTEXT"}
    ]


def test_container_images_are_built_by_the_platform_after_the_unit_tests(prod_plan):
    build = next(stage for stage in pipelines(prod_plan)["booking-prod"]["stages"] if stage["name"] == "Build")
    unit_tests, image = build["actions"]
    assert (unit_tests["name"], unit_tests.get("runOrder", 1)) == ("BuildAndUnitTest", 1)
    assert json.loads(unit_tests["configuration"]["EnvironmentVariables"]) == [
        {"name": "TARGET_ENVIRONMENT", "value": "prod", "type": "PLAINTEXT"}
    ]
    assert image["name"] == "BuildImage" and image["runOrder"] == 2
    assert image["configuration"]["ProjectName"] == "booking-image-build"
    assert image["inputArtifacts"] == ["build_output"] and image["outputArtifacts"] == ["image_output"]
    assert json.loads(image["configuration"]["EnvironmentVariables"]) == [
        {
            "name": "IMAGE_TAG",
            "value": "#{SourceVariables.CommitId}-prod-#{codepipeline.PipelineExecutionId}",
            "type": "PLAINTEXT",
        }
    ]
    deploy = action(pipelines(prod_plan)["booking-prod"], "Deploy")
    assert deploy["inputArtifacts"] == ["build_output", "image_output"]
    assert deploy["configuration"]["Image1ArtifactName"] == "image_output"
    assert deploy["configuration"]["TaskDefinitionTemplateArtifact"] == "build_output"
    # Lambda and Server services build once, with no image.
    for name in ("invoicing-prod", "ledger-prod"):
        assert [
            a["name"] for s in pipelines(prod_plan)[name]["stages"] if s["name"] == "Build" for a in s["actions"]
        ] == ["BuildAndUnitTest"]


def test_only_the_image_build_may_push_and_only_to_its_own_repository(prod_plan):
    def grants(role_name):
        role = resource(prod_plan, ROLE, name=role_name)
        (policy,) = [r for r in prod_plan.resources if r.type == ROLE_POLICY and r.parent == role.urn]
        return {s["Sid"]: s for s in document(policy.inputs["policy"])["Statement"]}

    assert "ecr:" not in json.dumps(grants("cicd-build-booking"))
    image = grants("cicd-image-build-booking")
    assert image["PushImage"]["Resource"] == "arn:aws:ecr:eu-west-1:123456789012:repository/booking"
    assert "ecr:PutImage" in image["PushImage"]["Action"]
    assert set(image) == {"Logs", "ArtifactObjects", "ArtifactKey", "RegistryLogin", "PushImage"}


def test_artifact_key_rotates_and_lets_exactly_the_deploy_side_roles_decrypt(prod_plan):
    (key,) = [r for r in prod_plan.resources if r.type == "aws:kms/key:Key" and r.name == "artifacts-key"]
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in document(key.inputs["policy"])["Statement"]}
    prod_readers = statements["DeployAccount444444444444DecryptsArtifacts"]
    assert prod_readers["Principal"] == {"AWS": "arn:aws:iam::444444444444:root"}
    assert prod_readers["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    # Deploy roles by name (ECS, Server, and Lambda's, which hand the staged release to UpdateFunctionCode, which
    # reads it as the caller): a list per service would outgrow the key policy's 32 KB at about 60 services.
    assert prod_readers["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::444444444444:role/cicd-deploy-*"}
    }
    # Server instances (ledger-node there) fetch revisions themselves: roles their owner opted in by tag.
    instances = statements["InstanceRoles444444444444DecryptsArtifacts"]
    assert instances["Principal"] == {"AWS": "arn:aws:iam::444444444444:root"}
    assert instances["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::444444444444:role/*"},
        "StringEquals": {"aws:PrincipalTag/cicd-platform-managed-policy": "true"},
    }
    assert statements["DeployAccount455555555555DecryptsArtifacts"]["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::455555555555:role/cicd-deploy-*"}
    }
    assert "InstanceRoles455555555555DecryptsArtifacts" not in statements  # no Server service there
    assert all(s["Principal"] != "*" and s["Principal"] != {"AWS": "*"} for s in statements.values())


def test_artifact_bucket_is_hardened(prod_plan):
    name = "cicd-artifacts-prod-123456789012-eu-west-1"
    resource(prod_plan, "aws:s3/bucket:Bucket", bucket=name)
    versioning = resource(prod_plan, "aws:s3/bucketVersioning:BucketVersioning", bucket=name).inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    (rule,) = resource(
        prod_plan,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        bucket=name,
    ).inputs["rules"]
    assert rule["bucketKeyEnabled"] is True
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": prod_plan.outputs["artifactKeyArn"],
    }
    block = resource(prod_plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket=name).inputs
    assert all(
        block[flag] is True
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = resource(prod_plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket=name).inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    statements = {
        s["Sid"]: s
        for s in document(resource(prod_plan, "aws:s3/bucketPolicy:BucketPolicy", bucket=name).inputs["policy"])[
            "Statement"
        ]
    }
    tls = statements["DenyInsecureTransport"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    lifecycle = resource(
        prod_plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket=name
    ).inputs
    # One rule per kind of object (tests/test_artifact_retention_program.py); every object ages out.
    rules = {r["id"]: r for r in lifecycle["rules"]}
    assert rules["everything-else"]["expiration"] == {"days": 400}
    assert rules["everything-else"]["noncurrentVersionExpiration"] == {"noncurrentDays": 7}
    assert rules["everything-else"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}
    assert rules["pipeline-artifacts-a"]["expiration"] == {"days": 90}


def test_pipelines_encrypt_artifacts_with_the_platform_key(dev_plan):
    for pipeline in pipelines(dev_plan).values():
        (store,) = pipeline["artifactStores"]
        assert store["encryptionKey"] == {"id": dev_plan.outputs["artifactKeyArn"], "type": "KMS"}


def test_components_follow_the_pulumi_conventions(dev_plan):
    components = [r for r in dev_plan.resources if not r.custom and r.type != "pulumi:pulumi:Stack"]
    assert {r.type.split(":")[0] for r in components} == {"cicd"}
    assert all(len(r.type.split(":")) == 3 for r in components)
    assert all(r.parent for r in dev_plan.resources if r.type != "pulumi:pulumi:Stack")


def test_platform_passes_its_own_policy_pack(dev_plan, prod_plan):
    # Advisory findings are listed in the plan; tests/policies/test_platform_plans.py names them.
    assert [v for v in dev_plan.violations if v.level == "mandatory"] == []
    assert [v for v in prod_plan.violations if v.level == "mandatory"] == []


def test_deploy_window_holds_the_stage_before_deploy_where_configured(prod_plan):
    stages = pipelines(prod_plan)["booking-prod"]["stages"]
    names = [stage["name"] for stage in stages]
    held = stages[names.index("Deploy") - 1]
    assert held["name"] == "Approve"
    (rule,) = held["onSuccess"]["condition"]["rules"]
    assert rule["ruleTypeId"] == {"category": "Rule", "owner": "AWS", "provider": "DeploymentWindow", "version": "1"}
    assert rule["configuration"] == {"Cron": "* * 9-15 ? * MON-THU", "TimeZone": "Europe/Dublin"}
    deploy = stages[names.index("Deploy")]
    entry_rules = deploy.get("beforeEntry", {}).get("condition", {}).get("rules", [])
    assert all(r["ruleTypeId"]["provider"] != "DeploymentWindow" for r in entry_rules)
    dev_stages = pipelines(prod_plan)["booking-dev"]["stages"]
    assert not any("onSuccess" in stage for stage in dev_stages if stage["name"] != "Deploy")
    assert [r["name"] for r in entry_rules] == ["DeployGate"]


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan"])
def test_every_service_environment_has_its_deploy_role_in_the_right_account(stack, request):
    plan = request.getfixturevalue(stack)
    roles = {r.inputs["name"]: r for r in plan.resources if r.type == ROLE}
    providers = {
        r.urn: json.loads(r.inputs["allowedAccountIds"]) for r in plan.resources if r.type == "pulumi:providers:aws"
    }
    tooling = plan.inputs.settings.tooling_account_id
    for service in plan.inputs.catalog.services:
        trusted_role = "release" if service.aws.platform == "Lambda" else "pipeline"
        for environment in plan.inputs.environments_for(service):
            role = roles[naming.deploy_role_name(service.name, environment.name)]
            assert providers[role.provider] == [environment.account_id]
            (statement,) = document(role.inputs["assumeRolePolicy"])["Statement"]
            trusted = f"arn:aws:iam::{tooling}:role/cicd/{plan.inputs.stack}/cicd-{trusted_role}-{service.name}"
            assert statement["Principal"] == {"AWS": trusted}  # the tooling role's ARN carries its path
            assert statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == plan.inputs.settings.organization_id
