"""CodeBuild projects: encrypted artifacts, no privileged mode, logs, no credentials in plain sight.

A build runs the repository's own code with the project's role; what the
project leaks (logs, variables, source URLs) or allows (Docker-in-Docker)
decides how much a malicious commit can reach.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fnmatch import fnmatchcase

from .base import Config, Props, as_list, as_mapping, dig, is_unknown, resource_rule

PROJECT = "aws:codebuild/project:Project"
AWS_MANAGED_S3_KEY = re.compile(r"(^|:)alias/aws/s3$")
CREDENTIAL_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AWS_SECRET_ACCESS_KEY)", re.I
)
AWS_ACCESS_KEY_VALUE = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
# A value that names where a secret lives (an ARN or a parameter path) is a reference, not the secret.
SECRET_REFERENCE = re.compile(r"^(arn:aws[a-z-]*:(secretsmanager|ssm):|/)")
REFERENCE_NAME = re.compile(r"_(ARN|ID|NAME|PARAMETER|PARAM|PATH)$", re.I)
CREDENTIALS_IN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]+@", re.I)


def _artifact_blocks(props: Props) -> list[tuple[str, object]]:
    blocks: list[tuple[str, object]] = [("artifacts", props.get("artifacts"))]
    blocks += [(f"secondaryArtifacts[{i}]", item) for i, item in enumerate(as_list(props.get("secondaryArtifacts")))]
    return blocks


# codebuild-artifact-encryption


def check_artifact_encryption(_: str, props: Props, __: Config) -> Iterator[str]:
    key = props.get("encryptionKey")
    if not is_unknown(key):
        if not key:
            yield "project has no encryption_key: artifacts use the AWS-managed S3 key, not a customer key"
        elif isinstance(key, str) and AWS_MANAGED_S3_KEY.search(key):
            yield f"project encryption_key is the AWS-managed key {key!r}, not a customer key"
    for where, block in _artifact_blocks(props):
        if dig(block, "encryptionDisabled") is True:
            yield f"{where} has encryption_disabled=True"


CODEBUILD_ARTIFACT_ENCRYPTION = resource_rule(
    name="codebuild-artifact-encryption",
    description="CodeBuild projects encrypt artifacts with a customer-managed KMS key and never disable it.",
    level="mandatory",
    resource_types={PROJECT},
    check=check_artifact_encryption,
    remediation="Set encryption_key to the artifact CMK's ARN and drop encryption_disabled.",
    anchors=("CKV_AWS_78", "CKV_AWS_147"),
)


# codebuild-no-privileged


def check_no_privileged(_: str, props: Props, config: Config) -> Iterator[str]:
    if dig(props, "environment", "privilegedMode") is not True:
        return
    name = props.get("name")
    if is_unknown(name):
        return
    allowed = config.get("allowedProjects", ())
    if isinstance(name, str) and any(fnmatchcase(name, pattern) for pattern in allowed):
        return
    yield f"project {name} runs in privileged mode but is not in allowedProjects (Docker builds only)"


CODEBUILD_NO_PRIVILEGED = resource_rule(
    name="codebuild-no-privileged",
    description="CodeBuild projects run unprivileged unless allow-listed for Docker image builds.",
    level="mandatory",
    resource_types={PROJECT},
    check=check_no_privileged,
    remediation="Set environment.privileged_mode=False, or add the project to the rule's allowedProjects "
    "when it builds container images.",
    anchors=("CKV_AWS_316",),
    config_schema={
        "allowedProjects": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Project names (glob patterns) that may run privileged (Docker-in-Docker builds).",
        }
    },
)


# codebuild-logging


def check_logging(_: str, props: Props, __: Config) -> Iterator[str]:
    logs = props.get("logsConfig")
    if is_unknown(logs):
        return
    cloudwatch = dig(logs, "cloudwatchLogs", "status")
    s3 = dig(logs, "s3Logs", "status")
    if is_unknown(cloudwatch) or is_unknown(s3):
        return
    # CodeBuild sends logs to CloudWatch unless told otherwise.
    if cloudwatch == "DISABLED" and s3 != "ENABLED":
        yield "both CloudWatch and S3 build logs are disabled"
    if s3 == "ENABLED" and dig(logs, "s3Logs", "encryptionDisabled") is True:
        yield "S3 build logs are written unencrypted (s3_logs.encryption_disabled=True)"


CODEBUILD_LOGGING = resource_rule(
    name="codebuild-logging",
    description="CodeBuild projects keep build logs (CloudWatch or S3), and S3 logs are encrypted.",
    level="mandatory",
    resource_types={PROJECT},
    check=check_logging,
    remediation="Enable logs_config.cloudwatch_logs (with a retained, encrypted log group) or s3_logs "
    "without encryption_disabled.",
    anchors=("CKV_AWS_314", "CKV_AWS_311", "SH CodeBuild.3", "SH CodeBuild.4"),
)


# codebuild-no-plaintext-creds


def check_no_plaintext_creds(_: str, props: Props, __: Config) -> Iterator[str]:
    for variable in as_list(dig(props, "environment", "environmentVariables")):
        variable = as_mapping(variable)
        name, value, kind = variable.get("name"), variable.get("value"), variable.get("type", "PLAINTEXT")
        if is_unknown(kind) or kind not in (None, "PLAINTEXT"):
            continue
        if isinstance(value, str) and AWS_ACCESS_KEY_VALUE.search(value):
            yield f"environment variable {name} holds an AWS access key id in plain text"
        elif (
            isinstance(name, str)
            and CREDENTIAL_NAME.search(name)
            and isinstance(value, str)
            and not is_unknown(value)
            and not SECRET_REFERENCE.match(value)
            and not REFERENCE_NAME.search(name)
        ):
            yield f"environment variable {name} looks like a credential but is PLAINTEXT (use SECRETS_MANAGER)"


CODEBUILD_NO_PLAINTEXT_CREDS = resource_rule(
    name="codebuild-no-plaintext-creds",
    description="CodeBuild environment variables never carry credentials as PLAINTEXT.",
    level="mandatory",
    resource_types={PROJECT},
    check=check_no_plaintext_creds,
    remediation="Store the value in Secrets Manager or Parameter Store and reference it with type "
    "SECRETS_MANAGER or PARAMETER_STORE.",
    anchors=("SH CodeBuild.2", "Cfg codebuild-project-envvar-awscred-check"),
)


# codebuild-source-no-creds


def check_source_no_creds(_: str, props: Props, __: Config) -> Iterator[str]:
    sources = [("source", props.get("source"))]
    sources += [(f"secondarySources[{i}]", s) for i, s in enumerate(as_list(props.get("secondarySources")))]
    for where, source in sources:
        location = dig(source, "location")
        if isinstance(location, str) and not is_unknown(location) and CREDENTIALS_IN_URL.match(location):
            host = location.split("@", 1)[1].split("/", 1)[0]
            yield f"{where} location embeds credentials before '@{host}' (user:password or token in the URL)"


CODEBUILD_SOURCE_NO_CREDS = resource_rule(
    name="codebuild-source-no-creds",
    description="CodeBuild source URLs carry no user name, password or token.",
    level="mandatory",
    resource_types={PROJECT},
    check=check_source_no_creds,
    remediation="Use a CodeConnections/CodeStar connection or CodeBuild source credentials, never a URL "
    "with credentials.",
    anchors=("SH CodeBuild.1",),
)

RULES = (
    CODEBUILD_ARTIFACT_ENCRYPTION,
    CODEBUILD_NO_PRIVILEGED,
    CODEBUILD_LOGGING,
    CODEBUILD_NO_PLAINTEXT_CREDS,
    CODEBUILD_SOURCE_NO_CREDS,
)
