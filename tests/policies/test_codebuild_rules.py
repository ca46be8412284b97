"""CodeBuild project rules, scenario by scenario."""

from __future__ import annotations

import pytest

from policies.rules.codebuild import (
    CODEBUILD_ARTIFACT_ENCRYPTION,
    CODEBUILD_LOGGING,
    CODEBUILD_NO_PLAINTEXT_CREDS,
    CODEBUILD_NO_PRIVILEGED,
    CODEBUILD_SOURCE_NO_CREDS,
)
from policies.testing import UNKNOWN, Resource

from .rule_cases import fires, quiet, unknown

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
    # codebuild-no-privileged
    fires(
        CODEBUILD_NO_PRIVILEGED,
        "privileged and not allow-listed",
        project(environment=environment(privilegedMode=True)),
        "project booking-build runs in privileged mode but is not in allowedProjects (Docker builds only)",
    ),
    quiet(
        CODEBUILD_NO_PRIVILEGED,
        "privileged container build on the allow-list",
        project(environment=environment(privilegedMode=True)),
        config={"allowedProjects": ["booking-build"]},
    ),
    quiet(
        CODEBUILD_NO_PRIVILEGED,
        "allow-list by pattern",
        project(environment=environment(privilegedMode=True)),
        config={"allowedProjects": ["*-build"]},
    ),
    quiet(CODEBUILD_NO_PRIVILEGED, "unprivileged", project()),
    unknown(
        CODEBUILD_NO_PRIVILEGED, "privileged mode not known", project(environment=environment(privilegedMode=UNKNOWN))
    ),
    unknown(
        CODEBUILD_NO_PRIVILEGED, "name not known", project(name=UNKNOWN, environment=environment(privilegedMode=True))
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
